package dev.papa.daemon;

import static dev.papa.daemon.ProtocolClient.closedItem;
import static dev.papa.daemon.ProtocolClient.err;
import static dev.papa.daemon.ProtocolClient.out;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.papa.daemon.ProtocolClient.Item;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** make / list / remove processes and every process option. */
@Timeout(value = 40, unit = TimeUnit.SECONDS)
class ProcessesTest extends DaemonTestBase {

    @Test
    void makeListAndRemake() throws Exception {
        ProtocolClient c = connect();
        double before = System.currentTimeMillis() / 1000.0;
        Proc p = make(c, "sl /bin/sleep 30");
        assertEquals("sl", p.name());
        assertTrue(p.running());
        assertNull(p.uid());
        assertNull(p.gid());
        assertEquals("/bin/sleep 30", p.args());
        double started = Double.parseDouble(p.started());
        assertTrue(started >= before - 5 && started <= System.currentTimeMillis() / 1000.0 + 5, p.started());
        assertTrue(ProcessHandle.of(p.pid()).isPresent());
        assertEquals(p.line() + "\n> ", c.send("list processes"));
        assertEquals(p.line() + "\n> ", c.send("l p sl"));
        assertEquals(p.line() + "\n> ", c.send("l p s*"));
        assertEquals("\n> ", c.send("l p zz*"));
        assertEquals("\n> ", c.send("l p nothere"));
        // the same name, options and arguments: the same process
        assertEquals(p.line() + "\n> ", c.send("make process sl /bin/sleep 30"));
        // anything different: an error naming the existing one
        assertEquals("Error: Process for sl has already been created - " + p.line() + "\n> ",
                c.send("make process sl /bin/sleep 31"));
        assertEquals("Error: Process for sl has already been created - " + p.line() + "\n> ",
                c.send("make process sl env.A=1 /bin/sleep 30"));
        assertEquals("Error: Process for sl has already been created - " + p.line() + "\n> ",
                c.send("make process sl bufsize=2k /bin/sleep 30"));
        Proc q = make(c, "sm /bin/sleep 30");
        assertEquals(p.line() + "\n" + q.line() + "\n> ", c.send("list processes"));
        assertEquals(p.line() + "\n" + q.line() + "\n> ", c.send("list processes *"));
        assertEquals(q.line() + "\n> ", c.send("list processes sm"));
    }

    @Test
    void exitedProcessStaysListedUntilItsCloseIsAcknowledged() throws Exception {
        ProtocolClient c = connect();
        Proc p = make(c, "t /bin/true");
        Proc exited = awaitExited(c, "t");
        assertEquals(p.pid(), exited.pid());
        assertEquals(p.started(), exited.started());
        assertEquals(exited.line() + "\n> ", c.send("list processes"));
        List<Item> items = watchAll(c, "t", 1);
        assertEquals(1, items.size(), items.toString());
        assertEquals(0, closedItem(items, "t").status());
        assertEquals("\n> ", c.send("list processes"));
        awaitReaped(p.pid());
    }

    @Test
    void exitStatuses() throws Exception {
        ProtocolClient c = connect();
        assertEquals(3, closedItem(run(c, "e3 /bin/sh -c " + esc("exit 3")), "e3").status());
        assertEquals(-9, closedItem(run(c, "k9 /bin/sh -c " + esc("kill -9 $$")), "k9").status());
        Proc s = make(c, "term /bin/sleep 30");
        awaitExec(s.pid(), "sleep");
        ProcessHandle.of(s.pid()).ifPresent(ProcessHandle::destroy); // SIGTERM
        List<Item> items = watchAll(c, "term", 1);
        assertEquals(-15, closedItem(items, "term").status());
    }

    @Test
    void environmentIsExactlyTheGivenVariables() throws Exception {
        ProtocolClient c = connect();
        List<Item> none = run(c, "e0 /usr/bin/env");
        assertEquals("", out(none), "no env given: an empty environment");
        assertEquals(1, none.size(), none.toString());
        List<Item> some = run(c, "e1 env.A=1 env.B=x\\ y env.C= env.D=p=q env.E=\"z\\\" env.F=\"quoted\" /usr/bin/env");
        Set<String> lines = new TreeSet<>(Arrays.asList(out(some).split("\n")));
        assertEquals(new TreeSet<>(Set.of("A=1", "B=x y", "C=", "D=p=q", "E=z\\", "F=quoted")), lines);
    }

    @Test
    void executableIsLookedUpInTheProcessPath() throws Exception {
        ProtocolClient c = connect();
        // no PATH: /bin:/usr/bin
        List<Item> items = run(c, "p1 env");
        assertEquals("", out(items));
        assertEquals(0, closedItem(items, "p1").status());
        items = run(c, "p2 env.PATH=/usr/bin:/bin env.X=1 env");
        assertEquals(new TreeSet<>(Set.of("PATH=/usr/bin:/bin", "X=1")),
                new TreeSet<>(Arrays.asList(out(items).split("\n"))));
        String reply = c.send("make process p3 env.PATH=" + tmp + " env");
        ProtocolClient.assertErrorLine("make process p3", reply);
        assertTrue(reply.startsWith("Error: Bad command - "), reply);
        assertEquals("\n> ", c.send("list processes"));
    }

    @Test
    void escapedSpacesAndQuotedValuesInArguments() throws Exception {
        ProtocolClient c = connect();
        List<Item> items = run(c, "sp /bin/sh -c echo\\ hi\\ \\ there");
        assertEquals("hi there\n", out(items)); // sh -c "echo hi  there"
        items = run(c, "args /usr/bin/printf [%s]\\n a\\ b c \"q\"");
        assertEquals("[a b]\n[c]\n[\"q\"]\n", out(items), "only option values lose their quotes");
        items = run(c, "wd working_dir=\"" + tmp + "\" /bin/pwd");
        assertEquals(tmp + "\n", out(items));
    }

    @Test
    void workingDir() throws Exception {
        ProtocolClient c = connect();
        Path dir = Files.createDirectory(tmp.resolve("work dir"));
        List<Item> items = run(c, "wd working_dir=" + esc(dir.toString()) + " /bin/pwd");
        assertEquals(dir + "\n", out(items));
        items = run(c, "root working_dir=/ /bin/pwd");
        assertEquals("/\n", out(items));
        String reply = c.send("make process bad working_dir=" + tmp.resolve("missing") + " /bin/pwd");
        ProtocolClient.assertErrorLine("bad working_dir", reply);
        assertTrue(reply.startsWith("Error: Bad working_dir - "), reply);
        assertEquals("\n> ", c.send("list processes"));
    }

    @Test
    void uidAndGidByNameAndNumber() throws Exception {
        ProtocolClient c = connect();
        String idNobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n";
        Proc byName = make(c, "n1 uid=nobody /usr/bin/id");
        assertEquals("65534", byName.uid());
        assertEquals("65534", byName.gid(), "gid defaults to the user's primary group");
        assertEquals("/usr/bin/id", byName.args());
        assertEquals(idNobody, out(watchAll(c, "n1", 1)));

        Proc byNumber = make(c, "n2 uid=65534 gid=65534 /usr/bin/id");
        assertEquals("65534", byNumber.uid());
        assertEquals("65534", byNumber.gid());
        assertEquals(idNobody, out(watchAll(c, "n2", 1)));

        Proc groupOnly = make(c, "n3 gid=nogroup /usr/bin/id");
        assertNull(groupOnly.uid());
        assertEquals("65534", groupOnly.gid());
        String id = out(watchAll(c, "n3", 1));
        assertTrue(id.startsWith("uid=0(root) gid=65534(nogroup) "), id);

        // running as nobody, as seen by the kernel
        Proc sl = make(c, "n5 uid=nobody /bin/sleep 30");
        awaitExec(sl.pid(), "sleep");
        String status = Files.readString(Path.of("/proc/" + sl.pid() + "/status"));
        assertTrue(status.contains("\nUid:\t65534\t65534\t65534\t65534\n"), status);
        assertTrue(status.contains("\nGid:\t65534\t65534\t65534\t65534\n"), status);
        assertTrue(status.contains("\nGroups:\t65534 \n") || status.contains("\nGroups:\t65534\n"), status);
    }

    @Test
    void unknownUserOrGroupIsAnErrorNamingIt() throws Exception {
        ProtocolClient c = connect();
        String e = c.error("make process u uid=nosuchuser /usr/bin/id");
        assertTrue(e.contains("nosuchuser"), e);
        e = c.error("make process g gid=nosuchgroup /usr/bin/id");
        assertTrue(e.contains("nosuchgroup"), e);
        assertEquals("\n> ", c.send("list processes"));
    }

    @Test
    void rlimits() throws Exception {
        ProtocolClient c = connect();
        List<Item> items = run(c, "lim rlimit.nofile=100 rlimit.core=0 rlimit.fsize=1048576 rlimit.nproc=500 "
                + "/bin/cat /proc/self/limits");
        String limits = out(items);
        assertTrue(limits.matches("(?s).*\nMax open files +100 +100 +files *\n.*"), limits);
        assertTrue(limits.matches("(?s).*\nMax core file size +0 +0 +bytes *\n.*"), limits);
        assertTrue(limits.matches("(?s).*\nMax file size +1048576 +1048576 +bytes *\n.*"), limits);
        assertTrue(limits.matches("(?s).*\nMax processes +500 +500 +processes *\n.*"), limits);
        items = run(c, "sh rlimit.nofile=64 /bin/sh -c " + esc("ulimit -n; ulimit -Hn"));
        assertEquals("64\n64\n", out(items));
    }

    /** Three 600-byte chunks; before the second and the third the child waits on the fifos given as arguments. */
    static final String THREE_CHUNKS = """
            import sys
            for i, ch in enumerate('abc'):
                if i > 0:
                    open(sys.argv[i]).readline()
                sys.stdout.buffer.write(ch.encode() * 600)
                sys.stdout.flush()
            """;

    @Test
    void bufsizeWithKSuffix() throws Exception {
        ProtocolClient c = connect();
        Path py = script("three.py", THREE_CHUNKS);
        Path[] goSmall = {fifo("go-small1"), fifo("go-small2")}, goLarge = {fifo("go-large1"), fifo("go-large2")};
        make(c, "small bufsize=1k /usr/bin/python3 " + py + " " + goSmall[0] + " " + goSmall[1]);
        make(c, "large bufsize=2k /usr/bin/python3 " + py + " " + goLarge[0] + " " + goLarge[1]);
        String[] chunks = {"a", "b"};
        for (int i = 0; i < 2; i++) { // each chunk read on its own before the next is written
            awaitCapturedTail("small", chunks[i].repeat(600));
            release(goSmall[i]);
            awaitCapturedTail("large", chunks[i].repeat(600));
            release(goLarge[i]);
        }
        awaitExited(c, "small");
        awaitExited(c, "large");
        List<Item> small = watchAll(c, "small", 1);
        assertEquals("c".repeat(600), out(small), "1k keeps only the last 600-byte chunk");
        List<Item> large = watchAll(c, "large", 1);
        assertEquals("a".repeat(600) + "b".repeat(600) + "c".repeat(600), out(large));
    }

    static final String COUNTER = """
            import sys
            sys.stdout.buffer.write(b''.join(b'%07d\\n' % i for i in range(187500)))
            """;

    static byte[] counter() {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (int i = 0; i < 187500; i++) o.writeBytes(String.format("%07d\n", i).getBytes(StandardCharsets.US_ASCII));
        return o.toByteArray();
    }

    @Test
    void bufsizeWithMAndGSuffixes() throws Exception {
        ProtocolClient c = connect();
        Path py = script("counter.py", COUNTER);
        byte[] full = counter(); // 1,500,000 bytes
        make(c, "m bufsize=1m /usr/bin/python3 " + py);
        make(c, "g bufsize=1g /usr/bin/python3 " + py);
        awaitExited(c, "m");
        awaitExited(c, "g");
        List<Item> m = watchAll(c, "m", 1);
        byte[] kept = ProtocolClient.outBytes(m);
        long chunks = m.stream().filter(i -> i.kind().equals("out")).count();
        assertTrue(kept.length < full.length, "1m evicted something: kept " + kept.length);
        assertTrue(kept.length <= 1048576 || chunks == 1, "1m keeps at most 1 MiB: kept " + kept.length);
        assertArrayEquals(Arrays.copyOfRange(full, full.length - kept.length, full.length), kept,
                "what is kept is the newest output, whole");
        assertArrayEquals(full, ProtocolClient.outBytes(watchAll(c, "g", 1)), "1g keeps everything");
    }

    @Test
    void bufsizeZeroStdoutZeroStderrZeroAndStderrToStdout() throws Exception {
        ProtocolClient c = connect();
        String both = "/bin/sh -c " + esc("echo to-out; echo to-err >&2");
        List<Item> items = run(c, "plain " + both);
        assertEquals("to-out\n", out(items));
        assertEquals("to-err\n", err(items));
        items = run(c, "zero bufsize=0 " + both);
        assertEquals(1, items.size(), "bufsize=0 captures nothing: " + items);
        items = run(c, "noout stdout=0 " + both);
        assertEquals("", out(items));
        assertEquals("to-err\n", err(items));
        items = run(c, "noerr stderr=0 " + both);
        assertEquals("to-out\n", out(items));
        assertEquals("", err(items));
        items = run(c, "merged stderr=stdout /bin/sh -c " + esc("echo one; echo two >&2; echo three"));
        assertEquals("one\ntwo\nthree\n", out(items));
        assertEquals("", err(items));
        items = run(c, "none stdout=0 stderr=0 " + both);
        assertEquals(1, items.size(), items.toString());
    }

    @Test
    void removeARunningProcessKeepsDrainingItAndForgetsItWhenItExits() throws Exception {
        ProtocolClient c = connect();
        Path sh = script("drain.sh", "while [ ! -e go ]; do sleep 0.05; done\nhead -c 5000000 /dev/zero\n"
                + "head -c 5000000 /dev/zero >&2\n");
        Proc p = make(c, "drain working_dir=" + tmp + " bufsize=1k /bin/sh " + sh);
        assertEquals("\n> ", c.send("remove processes drain"));
        // still running, so still listed until it exits
        Files.writeString(tmp.resolve("go"), "");
        awaitIo("drain forgotten", 15_000, () -> c.send("list processes").equals("\n> "));
        awaitReaped(p.pid());
        assertEquals("Error: drain not found\n> ", c.send("remove processes drain"));
    }

    @Test
    void removeAnExitedProcessForgetsItAtOnce() throws Exception {
        ProtocolClient c = connect();
        Proc t = make(c, "t1 /bin/sh -c " + esc("echo output"));
        Proc u = make(c, "t2 /bin/true");
        Proc s = make(c, "s1 /bin/sleep 30");
        awaitExited(c, "t1");
        awaitExited(c, "t2");
        assertEquals("Error: nope not found\n> ", c.send("remove processes nope"));
        assertEquals("\n> ", c.send("remove processes zz*"));
        assertEquals("\n> ", c.send("remove processes t*"));
        assertEquals(s.line() + "\n> ", c.send("list processes"));
        awaitReaped(t.pid());
        awaitReaped(u.pid());
        assertEquals("Error: t1 not found\n> ", c.send("watch processes t1"));
    }

    @Test
    void grandchildHoldingThePipeDoesNotDelayClosed() throws Exception {
        ProtocolClient c = connect();
        Path sh = script("grandchild.sh", "/bin/sleep 30 &\necho $!\n");
        Proc p = make(c, "gc /bin/sh " + sh);
        c.timeoutMs = 8_000;
        c.writeLine("watch processes gc");
        assertEquals("Watching 1", c.readLine());
        List<Item> items = new java.util.ArrayList<>();
        try {
            while (items.stream().noneMatch(i -> i.kind().equals("closed"))) {
                items.addAll(c.readBatch());
                c.writeLine("");
            }
            assertEquals("Nothing left to watch\n> ", c.readReply());
        } finally {
            String o = out(items).trim();
            if (!o.isEmpty()) pids.add(Long.parseLong(o));
        }
        assertEquals(0, closedItem(items, "gc").status());
        // closed follows the exit by the one-second pipe grace, not by the grandchild's 30 s
        // (its output, "echo $!", was captured by the time the exit was seen at the latest)
        double waited = closedItem(items, "gc").time() - items.stream().filter(i -> i.kind().equals("out"))
                .mapToDouble(Item::time).max().orElseThrow();
        assertTrue(waited >= 0.95 && waited < 10, "closed came " + waited + " s after the output");
        String o = out(items).trim();
        assertTrue(o.matches("\\d+"), o);
        assertTrue(ProcessHandle.of(Long.parseLong(o)).isPresent(), "the grandchild is still alive");
        awaitReaped(p.pid());
    }

    @Test
    void manyProcessesNoZombies() throws Exception {
        ProtocolClient c = connect();
        Set<Long> zombiesBefore = zombieChildren();
        for (int i = 0; i < 20; i++) make(c, "z" + i + " /bin/true");
        for (int i = 0; i < 20; i++) awaitExited(c, "z" + i);
        List<Item> items = watchAll(c, "z*", 20);
        assertEquals(20, items.stream().filter(i -> i.kind().equals("closed")).count());
        assertEquals("\n> ", c.send("list processes"));
        for (long pid : pids) awaitReaped(pid);
        assertTrue(zombiesBefore.containsAll(zombieChildren()), "no new zombies");
    }

    static Set<String> lines(String s) {
        return Arrays.stream(s.split("\n")).collect(Collectors.toCollection(TreeSet::new));
    }
}
