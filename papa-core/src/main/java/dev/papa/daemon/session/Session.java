package dev.papa.daemon.session;

import dev.papa.daemon.buffer.OutputBuffer;
import dev.papa.daemon.loop.Handler;
import dev.papa.daemon.principal.Principal;
import dev.papa.daemon.protocol.Command;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Help;
import dev.papa.daemon.protocol.Printable;
import dev.papa.daemon.protocol.Words;
import dev.papa.daemon.table.HostedProcess;
import dev.papa.daemon.table.ProcessTable;
import dev.papa.daemon.table.ProcessWatcher;
import dev.papa.daemon.table.SocketTable;
import dev.papa.posix.Epoll;
import dev.papa.posix.Fd;
import dev.papa.posix.Io;
import dev.papa.posix.PosixException;
import dev.papa.posix.Sockets;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One client connection: reads request lines, replies, and in watch mode sends batches of
 * output and waits for their acknowledgement (PROTOCOL.md, "Watching"). Never blocks: output
 * that the client does not take yet waits in {@link #pending}, and while too much waits the
 * session reads no more requests, so a slow client costs bounded memory and nobody else time.
 */
public final class Session implements Handler, ProcessWatcher {
    private static final Logger LOG = Logger.getLogger(Session.class.getName());

    /** The line buffer a session starts with, and goes back to after a long request. */
    static final int SMALL_LINE = 256;
    /** Past this much unsent reply data the session stops reading requests until it drains. */
    static final int PENDING_HIGH_WATER = 1 << 20;
    /**
     * The first batch of a watch is sent only once the client has read the reply line
     * ({@code Watching N} or the process line), in a write of its own: the reference clients
     * read that line with one recv() and then wait in select() for the batch, so bytes of the
     * batch that arrived with the line would be stranded in their buffer (PROTOCOL.md,
     * "Timing"). The client's unread bytes are looked at every millisecond; when they cannot be
     * known the batch waits {@link #FIRST_BATCH_DELAY_MILLIS}, and never longer than
     * {@link #FIRST_BATCH_MAX_WAIT_MILLIS}. Later batches follow acknowledgements and go at once.
     */
    static final long FIRST_BATCH_POLL_MILLIS = 1;
    static final long FIRST_BATCH_DELAY_MILLIS = 10;
    static final long FIRST_BATCH_MAX_WAIT_MILLIS = 1000;
    /**
     * A client that only shut down its sending side in watch mode ({@code nc -N}) cannot
     * acknowledge: a batch written to it in full counts as acknowledged when its socket is still
     * open this much later. A client that closed its socket is told apart from one that shut
     * down its side (unix: EPOLLHUP; TCP: sock_diag shows no open file for the client's socket)
     * and ends the watch like any disconnect, acknowledging nothing.
     */
    static final long HALF_CLOSED_ACK_MILLIS = 50;

    static final byte[] GREETING = "Papa is home. Type \"help\" for commands.\n> ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] PROMPT = "> ".getBytes(StandardCharsets.US_ASCII);

    private enum State { COMMAND, WATCH_WAIT_DATA, WATCH_WAIT_ACK, CLOSED }

    private final Server server;
    private final Fd fd;
    private final String peer;
    /** Whom this session acts for: its own entries only, unless an administrator. */
    private final Principal principal;
    /** Grows on demand up to the longest line: an idle session costs a few hundred bytes. */
    private byte[] line = new byte[SMALL_LINE];
    private int lineLength;
    private boolean discardingLongLine;
    /** Request bytes read but not parsed yet because the session paused or awaits an answer (at most one read). */
    private ByteBuffer unparsed;
    /**
     * A request is being carried out off the loop (the tables' worker): nothing more is parsed
     * until it is answered, so pipelined requests are answered in order.
     */
    private boolean awaitingAnswer;
    private final Outbox pending = new Outbox();
    /** Descriptor passing, on unix sessions only (null on TCP). */
    private final FdPassing passing;
    /** The descriptors that came with the request line being handled, if any. */
    private FdPassing.Attached lineFds;
    private boolean closeWhenFlushed;
    /** The epoll events the descriptor is registered for. */
    private int registeredEvents = Epoll.IN | Epoll.RDHUP;
    private boolean readPaused;
    /** What this session's unsent bytes last added to the server's total. */
    private long reportedPending;
    /** A stall check is scheduled (one chain per session, however often it pauses). */
    private boolean stallCheckRunning;
    /** The client shut down its sending side (EOF); it may still read. */
    private boolean inputClosed;
    /** Bytes the client has taken, ever: progress, for the slow-consumer rule. */
    private long written;
    private State state = State.COMMAND;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);

    // watch mode
    private final NavigableMap<String, HostedProcess> watched = new TreeMap<>();
    // the batch in flight: what was sent of each process (parallel arrays, reused)
    private HostedProcess[] sentProcs = new HostedProcess[4];
    private long[] sentEnds = new long[4];
    private int sentCount;
    private OutputBuffer[] batchQueues = new OutputBuffer[4];
    private byte[][] batchNames = new byte[4][];
    private boolean flushScheduled;
    /** The first batch of a watch waits for this timer (null: not waiting). */
    private dev.papa.daemon.loop.EventLoop.Timer firstBatchTimer;
    private long firstBatchSince;
    /** The TCP connection's two ends, looked up once for sock_diag. */
    private java.net.InetSocketAddress clientEnd, daemonEnd;
    /** The first batch waits for the reply line to be written, then for the delay. */
    private boolean firstBatchAfterFlush;

    Session(Server server, Fd fd, String peer, Principal principal) {
        this.server = server;
        this.fd = fd;
        this.peer = peer;
        this.principal = principal;
        this.passing = server.passesDescriptors() ? new FdPassing(server.strays(), peer) : null;
    }

    String peer() {
        return peer;
    }

    Principal principal() {
        return principal;
    }

    void start() throws PosixException {
        server.loop().register(fd.get(), registeredEvents, this);
        send(GREETING);
    }

    // ---------------------------------------------------------------- I/O

    @Override
    public void onReady(int events) {
        if (state == State.CLOSED) return;
        if ((events & Epoll.OUT) != 0) flush();
        if (state == State.CLOSED) return;
        if ((inputClosed || awaitingAnswer) && (events & (Epoll.HUP | Epoll.ERR)) != 0) {
            close(); // a reset, reported whatever the interest: the client is gone
            return;
        }
        if (inputClosed) return;
        if ((events & (Epoll.IN | Epoll.HUP | Epoll.ERR | Epoll.RDHUP)) != 0 && !readPaused) readRequests();
    }

    private void readRequests() {
        if (state == State.CLOSED || awaitingAnswer || readPaused) return;
        if (unparsed != null) {
            parse(unparsed);
            if (unparsed.hasRemaining()) return; // paused again, or closed
            unparsed = null;
        }
        ByteBuffer buf = server.readBuffer();
        for (int round = 0; round < 4 && state != State.CLOSED && !readPaused && !awaitingAnswer; round++) {
            buf.clear();
            int n;
            try {
                // recvmsg only where descriptors can come (unix); same syscall count as read
                n = passing == null ? Io.read(fd.get(), buf) : server.fdReceiver().read(fd.get(), buf);
            } catch (PosixException e) {
                LOG.log(Level.FINE, "read from " + peer, e);
                n = Io.EOF;
            }
            if (n == Io.AGAIN) return;
            if (n == Io.EOF) {
                inputEnded();
                return;
            }
            buf.flip();
            if (passing != null && server.fdReceiver().hasAncillary()) {
                boolean cut = server.fdReceiver().truncated();
                passing.received(server.fdReceiver().take(), cut);
            }
            parse(buf);
            if (buf.hasRemaining() && state != State.CLOSED) {
                // Paused or awaiting mid-buffer: the rest waits here (at most one read).
                unparsed = ByteBuffer.allocate(buf.remaining()).put(buf).flip();
                return;
            }
            if (n < buf.capacity()) return; // drained: epoll (level-triggered) reports the rest, no EAGAIN read
        }
    }

    /** Runs the request lines in {@code buf} until it is empty, or the session pauses or closes. */
    private void parse(ByteBuffer buf) {
        while (buf.hasRemaining() && state != State.CLOSED && !readPaused && !awaitingAnswer) {
            byte b = buf.get();
            if (b == '\n') {
                if (passing != null && passing.ownsDescriptors(buf.remaining())) lineFds = passing.claim();
                String request = lineFds == null ? null
                        : discardingLongLine ? "(a line over " + server.maxLine() + " bytes)" : preview(lineLength);
                if (discardingLongLine) {
                    discardingLongLine = false;
                    lineLength = 0;
                    reply(null, "Request line is too long (over " + server.maxLine() + " bytes)");
                } else {
                    int len = lineLength;
                    lineLength = 0;
                    onLine(len);
                    if (line.length > 16 * SMALL_LINE) line = new byte[SMALL_LINE];
                }
                if (lineFds != null) releaseLineFds(request);
            } else if (discardingLongLine) {
                // skip to the end of the line
            } else if (lineLength == server.maxLine()) {
                discardingLongLine = true;
            } else {
                if (lineLength == line.length) line = java.util.Arrays.copyOf(line, Math.min(server.maxLine(), line.length * 2));
                line[lineLength++] = b;
            }
        }
        if (passing != null && !buf.hasRemaining()) passing.endOfRead();
    }

    /** Closes (and logs) the descriptors of the line just handled that no request kept. */
    private void releaseLineFds(String request) {
        FdPassing.Attached a = lineFds;
        lineFds = null;
        passing.release(a, request);
    }

    private String preview(int len) {
        return new String(line, 0, Math.min(len, 80), StandardCharsets.UTF_8).strip();
    }

    /**
     * End of the client's requests. Replies still unsent are written first; a watch goes on until
     * it ends or a write fails (a half-closed client such as {@code nc -N} still reads).
     */
    private void inputEnded() {
        if (inputClosed) return;
        inputClosed = true;
        if (state == State.COMMAND) {
            closeAfterFlush();
            return;
        }
        if (!clientSocketOpen()) {
            close();
            return;
        }
        updateInterest(); // drops EPOLLIN: the end of file would stay readable
        if (state == State.WATCH_WAIT_ACK && pending.isEmpty()) ackWhenHalfClosed();
    }

    /**
     * False when the client closed its socket rather than shutting down its side. On a unix
     * socket a close shows as EPOLLHUP (handled in onReady), so only TCP is looked up.
     */
    private boolean clientSocketOpen() {
        if (!server.tcp()) return true;
        if (!tcpEnds()) return false;
        java.util.OptionalInt owner = server.clientQueues().ownerOf(clientEnd, daemonEnd);
        return owner != null && owner.isPresent();
    }

    /** Looks up the TCP connection's two ends once; false when they cannot be had. */
    private boolean tcpEnds() {
        if (clientEnd != null) return true;
        try {
            clientEnd = Sockets.peerAddress(fd.get());
            daemonEnd = Sockets.localAddress(fd.get());
            return true;
        } catch (PosixException e) {
            return false;
        }
    }

    /** Only spaces, tabs and a carriage return (what strip() would leave empty), for the ASCII ack line. */
    private boolean isBlank(int len) {
        for (int i = 0; i < len; i++) {
            byte b = line[i];
            if (b != ' ' && b != '\t' && b != '\r') return false;
        }
        return true;
    }

    private void send(byte[] bytes) {
        if (state == State.CLOSED) return;
        server.stateWatch().beforeReply();
        pending.add(bytes);
        flush();
    }

    private void send(String text) {
        send(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes what the client will take now, 64 KiB at a time through the loop's shared buffer. */
    private void flush() {
        ByteBuffer buf = server.writeBuffer();
        while (!pending.isEmpty()) {
            buf.clear();
            pending.fill(buf);
            buf.flip();
            long fdsAt = passing == null ? -1 : passing.nextOffset();
            if (fdsAt > written && fdsAt - written < buf.limit()) buf.limit((int) (fdsAt - written));
            int n;
            try {
                if (fdsAt == written) {
                    n = dev.papa.posix.Sockets.send(fd.get(), buf, passing.nextNumbers());
                    if (n > 0) passing.sent();
                } else {
                    n = Io.write(fd.get(), buf);
                }
            } catch (PosixException e) {
                LOG.log(Level.FINE, "write to " + peer, e);
                close();
                return;
            }
            if (n == Io.AGAIN) break;
            pending.consume(n);
            written += n;
            if (n < buf.limit()) break; // the socket buffer is full: wait for EPOLLOUT
        }
        if (pending.isEmpty() && closeWhenFlushed) {
            close();
            return;
        }
        if (pending.isEmpty()) {
            if (firstBatchAfterFlush) {
                firstBatchAfterFlush = false;
                scheduleFirstBatch();
            }
            if (inputClosed && state == State.WATCH_WAIT_ACK) ackWhenHalfClosed();
        }
        updateInterest();
    }

    /**
     * Reading requests pauses past this session's own high water, and also, while all sessions
     * together hold more unsent data than the server allows, as soon as this one's client falls
     * behind at all: many sessions cannot add up to more than one bound (docs/SECURITY.md); and
     * while a reply's descriptors are not written, so a client that reads nothing holds at most
     * one take's descriptors in the daemon.
     */
    private void updateInterest() {
        server.pendingChanged(pending.bytes() - reportedPending);
        reportedPending = pending.bytes();
        boolean write = !pending.isEmpty();
        boolean over = pending.bytes() > PENDING_HIGH_WATER;
        // a take's descriptors wait in this process until its reply is written: one take at a time
        boolean pause = over || (write && server.pendingOverLimit()) || (passing != null && passing.holdsOutgoing());
        boolean resumed = readPaused && !pause;
        readPaused = pause;
        boolean read = !pause && !awaitingAnswer && !inputClosed;
        int wanted = (read ? Epoll.IN | Epoll.RDHUP : 0) | (write ? Epoll.OUT : 0);
        if (wanted != registeredEvents) {
            try {
                server.loop().modify(fd.get(), wanted);
            } catch (PosixException e) {
                close();
                return;
            }
            registeredEvents = wanted;
        }
        if (resumed && !inputClosed) server.loop().afterRound(this::readRequests);
        if (over && !stallCheckRunning) {
            stallCheckRunning = true;
            watchForStall(written);
        }
    }

    /**
     * A client that leaves more than {@link #PENDING_HIGH_WATER} unread and takes nothing for
     * the server's stall time is disconnected: its replies are dropped, its unacknowledged
     * output stays queued for the next watcher.
     */
    private void watchForStall(long mark) {
        server.loop().schedule(server.stallMillis(), () -> {
            if (state == State.CLOSED || !readPaused) {
                stallCheckRunning = false;
                return;
            }
            if (written == mark) {
                server.warnings().warn(LOG, "slow clients disconnected", "Disconnecting " + peer + ": it read nothing for "
                        + server.stallMillis() + " ms with " + pending.bytes() + " bytes waiting", null);
                close();
            } else {
                watchForStall(written);
            }
        });
    }

    /** Closes the connection; nothing unacknowledged is removed from any queue. */
    void close() {
        if (state == State.CLOSED) return;
        state = State.CLOSED;
        stopWatching();
        server.loop().unregister(fd.get());
        fd.close();
        pending.clear();
        server.pendingChanged(-reportedPending);
        reportedPending = 0;
        if (passing != null) passing.closeAll();
        if (lineFds != null) releaseLineFds("(session closed)");
        server.sessionClosed(this);
    }

    // ---------------------------------------------------------------- requests

    private void onLine(int len) {
        if (state == State.WATCH_WAIT_ACK && isBlank(len)) {
            acknowledge(false); // the acknowledgement of every batch: nothing to decode
            return;
        }
        String text;
        try {
            text = utf8.decode(ByteBuffer.wrap(line, 0, len)).toString().strip();
        } catch (CharacterCodingException e) {
            if (state == State.COMMAND) reply(null, "Request is not valid UTF-8");
            else if (state == State.WATCH_WAIT_ACK) acknowledge(false);
            return;
        }
        switch (state) {
            case COMMAND:
                if (text.isEmpty()) send(PROMPT);
                else execute(text);
                break;
            case WATCH_WAIT_ACK:
                acknowledge(text.equalsIgnoreCase("q"));
                break;
            case WATCH_WAIT_DATA:
                // Nothing to acknowledge yet; "q" stops an idle watch (handy on telnet).
                if (text.equalsIgnoreCase("q")) endWatch("Stopped watching");
                break;
            default:
                break;
        }
    }

    private void execute(String text) {
        if (lineFds != null && lineFds.cut()) {
            reply(null, "more descriptors were attached to the request than papa takes (" + FdPassing.CAPACITY
                    + "): refused, and every descriptor of it closed");
            return;
        }
        List<String> words = Words.split(text);
        String result;
        try {
            Command command = Command.take(words, false);
            if (CHANGES_TABLES.contains(command)) server.stateWatch().changed();
            result = run(command, words);
        } catch (CommandError e) {
            stopAwaiting();
            reply(null, e.getMessage());
            return;
        } catch (RuntimeException | LinkageError | StackOverflowError e) {
            stopAwaiting();
            server.warnings().severe(LOG, "commands that failed internally", "command failed: " + Printable.of(text), e);
            reply(null, CommandError.internal().getMessage());
            return;
        }
        if (result != null) reply(result, null);
    }

    /** Commands that may change a table at once (make commands change it when answered). */
    private static final java.util.Set<Command> CHANGES_TABLES = java.util.EnumSet.of(Command.SET, Command.REMOVE_VALUES,
            Command.REMOVE_SOCKETS, Command.REMOVE_PROCESSES);

    /** Carries out one command; returns the reply text, or null when the command replied itself. */
    private String run(Command command, List<String> args) throws CommandError {
        switch (command) {
            case HELP:
                return args.isEmpty() ? Help.OVERVIEW : Help.forWords(args);
            case QUIT:
                send("ok\n");
                closeAfterFlush();
                return null;
            case EXIT_IF_IDLE:
                principal.requireAdmin("exit-if-idle is for administrators");
                if (!server.isIdle()) return "not idle";
                server.exitWhenIdle(); // before the reply: a client gone already must not cancel it
                send("Exiting papa!\n> ");
                closeAfterFlush();
                return null;
            case SET:
                server.values().set(principal, args);
                return "";
            case GET: {
                String v = server.values().get(principal, args);
                return v == null ? "" : v;
            }
            case LIST_VALUES:
                return server.values().list(principal, args);
            case REMOVE_VALUES:
                server.values().remove(principal, args);
                return "";
            case MAKE_SOCKET:
                awaitAnswer();
                server.sockets().make(principal, args, passing == null ? null : lineFds == null ? FdPassing.NONE : lineFds.fds(),
                        (socket, error) -> answered(error, () -> reply(socket.line(), null)));
                return null;
            case TAKE_SOCKETS: {
                if (passing == null) throw new CommandError("descriptor passing needs the unix control socket");
                SocketTable.Taken taken = server.sockets().take(principal, args);
                if (taken.fds().length > 0) passing.attachToReply(written + pending.bytes(), taken.fds());
                return taken.reply();
            }
            case LIST_SOCKETS:
                return server.sockets().list(principal, args);
            case REMOVE_SOCKETS:
                server.sockets().remove(principal, args);
                return "";
            case MAKE_PROCESS:
                awaitAnswer();
                server.processes().make(principal, args, (made, error) -> answered(error, () -> processMade(made)));
                return null;
            case VERSION:
                return dev.papa.daemon.Version.line();
            case UPGRADE:
                principal.requireAdmin("upgrade is for administrators");
                awaitAnswer();
                server.upgrade(args, this);
                return null;
            case LIST_DAEMON:
                if (!args.isEmpty()) throw new CommandError("list daemon takes no pattern");
                return server.listDaemon(principal);
            case LIST_PROCESSES:
                return server.processes().list(principal, args);
            case REMOVE_PROCESSES:
                server.processes().remove(principal, args);
                return "";
            case WATCH_PROCESSES: {
                NavigableMap<String, HostedProcess> procs = server.processes().select(principal, args, true);
                if (procs.isEmpty()) throw new CommandError("Nothing to watch");
                send("Watching " + procs.size() + "\n");
                startWatching(procs);
                return null;
            }
            default:
                throw new AssertionError(command);
        }
    }

    private void processMade(ProcessTable.Made made) {
        if (!made.watch()) {
            reply(made.process().line(), null);
            return;
        }
        send(made.process().line() + "\n");
        NavigableMap<String, HostedProcess> one = new TreeMap<>();
        one.put(made.process().name(), made.process());
        startWatching(one);
    }

    /**
     * Before a request that the table answers later (its slow part runs on the worker): no
     * further request is parsed until {@link #answered}. A CommandError thrown before the table
     * took the request ends the wait at once ({@link #stopAwaiting}).
     */
    private void awaitAnswer() {
        awaitingAnswer = true;
        updateInterest();
    }

    /** The request failed before it was taken: nothing is in flight. */
    private void stopAwaiting() {
        if (!awaitingAnswer) return;
        awaitingAnswer = false;
        updateInterest();
    }

    /** The answer to the request in flight, on the loop (maybe before the table's make returned). */
    private void answered(CommandError error, Runnable onSuccess) {
        server.stateWatch().changed(); // a made socket or process is in the table, whether or not the client is still here
        if (state == State.CLOSED || !awaitingAnswer) return; // the client left; what the table did stands
        awaitingAnswer = false;
        if (error != null) reply(null, error.getMessage());
        else onSuccess.run();
        updateInterest();
        server.loop().afterRound(this::readRequests);
    }

    /** The upgrade could not start: {@code Error: MESSAGE}, and requests are read again. */
    public void upgradeRefused(String message) {
        answered(new CommandError(message), null);
    }

    /** The upgrade goes ahead: the one line, then the session ends (like {@code quit}). */
    public void upgrading(String line) {
        answered(null, () -> {
            send(line + "\n");
            closeAfterFlush();
        });
    }

    /** Success: the text, a newline unless it ends in one, the prompt. Failure: {@code Error: MESSAGE}. */
    private void reply(String result, String error) {
        String text = error != null ? "Error: " + error : result;
        send(text.endsWith("\n") ? text + "> " : text + "\n> ");
    }

    private void closeAfterFlush() {
        closeWhenFlushed = true;
        stopWatching();
        if (pending.isEmpty()) close();
    }

    // ---------------------------------------------------------------- watch mode

    private void startWatching(NavigableMap<String, HostedProcess> procs) {
        if (state == State.CLOSED) return; // the reply line could not be written
        watched.putAll(procs);
        for (HostedProcess p : procs.values()) p.addWatcher(this);
        state = State.WATCH_WAIT_DATA;
        if (pending.isEmpty()) scheduleFirstBatch();
        else firstBatchAfterFlush = true;
    }

    private void scheduleFirstBatch() {
        firstBatchSince = System.nanoTime();
        firstBatchTimer = server.loop().schedule(FIRST_BATCH_POLL_MILLIS, this::firstBatchDue);
    }

    private void firstBatchDue() {
        firstBatchTimer = null;
        long waited = (System.nanoTime() - firstBatchSince) / 1_000_000;
        int unread = unreadByClient();
        boolean due = unread == 0 || (unread < 0 && waited >= FIRST_BATCH_DELAY_MILLIS) || waited >= FIRST_BATCH_MAX_WAIT_MILLIS;
        if (due) sendBatch();
        else firstBatchTimer = server.loop().schedule(FIRST_BATCH_POLL_MILLIS, this::firstBatchDue);
    }

    /** Bytes written to the client that it has not read yet; -1 when that cannot be known. */
    private int unreadByClient() {
        try {
            if (!server.tcp()) return Sockets.unreadByPeer(fd.get());
        } catch (PosixException e) {
            return -1;
        }
        return tcpEnds() ? server.clientQueues().unreadBytes(clientEnd, daemonEnd) : -1;
    }

    /** See {@link #HALF_CLOSED_ACK_MILLIS}. */
    private void ackWhenHalfClosed() {
        long mark = written;
        server.loop().schedule(HALF_CLOSED_ACK_MILLIS, () -> {
            if (state != State.WATCH_WAIT_ACK || written != mark || !pending.isEmpty()) return;
            if (clientSocketOpen()) acknowledge(false);
            else close();
        });
    }

    @Override
    public void outputQueued(HostedProcess p) {
        if (state == State.WATCH_WAIT_DATA) scheduleBatch();
    }

    @Override
    public void processGone(HostedProcess p) {
        watched.remove(p.name(), p);
        for (int i = 0; i < sentCount; i++) if (sentProcs[i] == p) sentProcs[i] = null;
        if (state == State.WATCH_WAIT_DATA) scheduleBatch();
    }

    private void scheduleBatch() {
        if (flushScheduled || firstBatchTimer != null || firstBatchAfterFlush) return;
        flushScheduled = true;
        server.loop().afterRound(this::sendBatch);
    }

    /** Sends every queued item of every watched process, if there is any; then waits for the ack. */
    private void sendBatch() {
        flushScheduled = false;
        if (state != State.WATCH_WAIT_DATA || firstBatchTimer != null || firstBatchAfterFlush) return;
        if (watched.isEmpty()) {
            endWatch("Nothing left to watch");
            return;
        }
        int n = watched.size();
        if (batchQueues.length < n) {
            int cap = Math.max(n, batchQueues.length * 2);
            batchQueues = new OutputBuffer[cap];
            batchNames = new byte[cap][];
            sentProcs = new HostedProcess[cap];
            sentEnds = new long[cap];
        }
        int k = 0;
        for (HostedProcess p : watched.values()) {
            if (p.output().isEmpty()) continue;
            batchQueues[k] = p.output();
            batchNames[k] = p.nameBytes();
            sentProcs[k] = p;
            sentEnds[k] = p.output().endSeq();
            k++;
        }
        if (k == 0 || !pending.addBatch(batchQueues, batchNames, k)) return;
        for (int i = 0; i < k; i++) batchQueues[i].markSent(sentEnds[i]); // evicting these now loses nothing
        java.util.Arrays.fill(batchQueues, 0, k, null);
        sentCount = k;
        state = State.WATCH_WAIT_ACK;
        flush();
    }

    private void acknowledge(boolean quit) {
        ProcessTable processes = server.processes();
        int before = processes.size();
        for (int i = 0; i < sentCount; i++) {
            HostedProcess p = sentProcs[i];
            sentProcs[i] = null;
            if (p != null) processes.acknowledge(p, sentEnds[i]);
        }
        sentCount = 0;
        if (processes.size() != before) server.stateWatch().changed(); // an exit was delivered: the process is gone
        if (watched.isEmpty()) {
            endWatch("Nothing left to watch");
        } else if (quit) {
            endWatch("Stopped watching");
        } else {
            state = State.WATCH_WAIT_DATA;
            scheduleBatch();
        }
    }

    private void endWatch(String message) {
        if (state == State.CLOSED) return;
        stopWatching();
        state = State.COMMAND;
        send(message + "\n> ");
        if (inputClosed) closeAfterFlush();
    }

    private void stopWatching() {
        if (firstBatchTimer != null) {
            firstBatchTimer.cancel();
            firstBatchTimer = null;
        }
        firstBatchAfterFlush = false;
        for (HostedProcess p : watched.values()) p.removeWatcher(this);
        watched.clear();
        java.util.Arrays.fill(sentProcs, 0, sentCount, null);
        sentCount = 0;
    }
}
