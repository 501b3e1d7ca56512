package dev.papa.daemon.hardening;

import dev.papa.daemon.Daemon;
import dev.papa.daemon.DaemonConfig;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PROTOCOL.md Part 2 "Principals": a daemon run as root with two extra allowed users, made for
 * the test; each user acts through its own connection, made by a process running as that user.
 */
@Timeout(120)
class PrincipalsTest extends UsersDaemonTestBase {
    static final String A = "papat10a", B = "papat10b", GROUP = "papat10g";
    @RegisterExtension
    static final UsersFixture users = new UsersFixture(GROUP, A, B);
    static int uidA, uidB, gidA, groupG;

    final List<Long> pids = new ArrayList<>();

    @BeforeAll
    static void makeUsers() throws Exception {
        uidA = users.uid(A);
        uidB = users.uid(B);
        gidA = users.gid(A);
        groupG = users.groupId();
    }

    @BeforeEach
    void start() throws Exception {
        daemon = Daemon.start(new DaemonConfig().port(0).allowUid(uidA).allowUid(uidB));
    }

    @AfterEach
    void killProcesses() {
        for (long pid : pids) ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }

    /** {@code make process} that must succeed; returns the pid (killed after the test). */
    long make(Conn c, String rest) throws Exception {
        String r = c.result("make process " + rest);
        Matcher m = Pattern.compile("\\S+ pid=(\\d+) running=\\w+ started=\\S+ .*").matcher(r);
        assertTrue(m.matches(), r);
        long pid = Long.parseLong(m.group(1));
        pids.add(pid);
        return pid;
    }

    /** Watches {@code name} to its exit and returns its stdout. */
    static String stdoutUntilExit(Conn c, String name) throws Exception {
        return untilExit(c, name).out();
    }

    /** What a process wrote and how it ended. */
    record Ended(String out, String err, int status) { }

    /** Watches {@code name} to its exit: its stdout, stderr and exit status. */
    static Ended untilExit(Conn c, String name) throws Exception {
        c.send("watch processes " + name + "\n");
        assertEquals("Watching 1", c.readLine());
        StringBuilder out = new StringBuilder(), err = new StringBuilder();
        for (;;) {
            List<Conn.Item> batch = c.readBatch();
            Integer status = null;
            for (Conn.Item i : batch) {
                if (i.kind().equals("out")) out.append(new String(i.data(), StandardCharsets.UTF_8));
                if (i.kind().equals("err")) err.append(new String(i.data(), StandardCharsets.UTF_8));
                if (i.kind().equals("closed")) status = i.exitStatus();
            }
            c.send("\n");
            if (status != null) {
                assertEquals("Nothing left to watch\n> ", c.readUntilPrompt());
                return new Ended(out.toString(), err.toString(), status);
            }
        }
    }

    @Test
    void valuesAreHiddenAndNamesHeldByOthersAreRefused() throws Exception {
        Conn root = root(), a = as(A), b = as(B);
        assertEquals("", root.result("set secret hunter2"));
        assertEquals("", a.result("list values"));
        assertEquals("", a.result("list values s*"));
        assertEquals("", a.result("get secret"));
        assertEquals("Error: secret is in use by another user", a.result("set secret mine"));
        // removing a hidden name answers exactly as for a name nobody holds
        assertEquals(a.result("remove values zzz").replace("zzz", "secret"), a.result("remove values secret"));
        assertEquals("", a.result("set secret"));
        assertEquals("hunter2", root.result("get secret"));

        assertEquals("", a.result("set mine 1"));
        assertEquals("", b.result("set theirs 2"));
        assertEquals("mine 1", a.result("list values"));
        assertEquals("theirs 2", b.result("list values *"));
        assertEquals("", b.result("get mine"));
        assertEquals("Error: mine is in use by another user", b.result("set mine 3"));
        // the administrator sees and changes everything; the owner keeps its value
        assertEquals("mine 1\nsecret hunter2\ntheirs 2", root.result("list values"));
        assertEquals("", root.result("set mine 4"));
        assertEquals("4", a.result("get mine"));
        assertEquals("", a.result("remove values mine"));
        assertEquals("secret hunter2\ntheirs 2", root.result("list values"));
    }

    @Test
    void processesRunAsTheUserAndOthersAreHidden() throws Exception {
        Conn root = root(), a = as(A), b = as(B);
        make(a, "ida /usr/bin/id");
        String id = stdoutUntilExit(a, "ida");
        assertTrue(id.startsWith("uid=" + uidA + "(" + A + ") gid=" + gidA + "(" + A + ")"), id);
        assertTrue(id.contains(groupG + "(" + GROUP + ")"), id);
        assertTrue(!id.contains("(root)"), id);

        assertEquals("Error: permission denied: uid 0", a.result("make process x uid=0 /usr/bin/id"));
        assertEquals("Error: permission denied: uid 0", a.result("make process x uid=root /usr/bin/id"));
        assertEquals("Error: permission denied: uid " + uidB, a.result("make process x uid=" + B + " /usr/bin/id"));
        assertEquals("Error: permission denied: gid 0", a.result("make process x gid=0 /usr/bin/id"));
        assertEquals("Error: permission denied: gid " + groupG, b.result("make process x gid=" + GROUP + " /usr/bin/id"));
        assertEquals("", a.result("list processes"));

        // its own uid and a group it belongs to are fine
        make(a, "idg uid=" + A + " gid=" + GROUP + " /usr/bin/id");
        String idg = stdoutUntilExit(a, "idg");
        assertTrue(idg.startsWith("uid=" + uidA + "(" + A + ") gid=" + groupG + "(" + GROUP + ")"), idg);

        // a file only root may read stays unreadable
        make(a, "shadow /bin/cat /etc/shadow");
        assertEquals(new Ended("", "/bin/cat: /etc/shadow: Permission denied\n", 1), untilExit(a, "shadow"));

        // others' processes are as if absent: by name, by pattern, by pid, in watch
        long pid = make(root, "rootsleep /bin/sleep 60");
        make(b, "bsleep /bin/sleep 60");
        assertEquals("", a.result("list processes"));
        assertEquals("", a.result("list processes *sleep"));
        assertEquals("", a.result("list processes root*"));
        assertEquals("Error: rootsleep not found", a.result("remove processes rootsleep"));
        assertEquals("Error: " + pid + " not found", a.result("remove processes " + pid));
        assertEquals("Error: rootsleep not found", a.result("watch processes rootsleep"));
        assertEquals("Error: Nothing to watch", a.result("watch processes root*"));
        assertEquals("Error: rootsleep is in use by another user", a.result("make process rootsleep /bin/sleep 60"));
        assertTrue(b.result("list processes").startsWith("bsleep pid="));
        String all = root.result("list processes");
        assertTrue(all.startsWith("bsleep pid=") && all.contains("\nrootsleep pid="), all);
        assertEquals("", root.result("remove processes bsleep"));
    }

    @Test
    void socketsOfOthersAreHiddenAndPrivilegedPortsRefused() throws Exception {
        Conn root = root(), a = as(A), b = as(B);
        assertEquals("Error: permission denied: port 81 is below 1024", a.result("make socket low host=0.0.0.0 port=81"));
        assertEquals("Error: permission denied: type=raw", a.result("make socket raw type=raw"));
        String mine = a.result("make socket web");
        assertTrue(mine.startsWith("web family=inet type=stream backlog=5 host=127.0.0.1 port="), mine);
        String rootLine = root.result("make socket rootweb");
        int rootFd = Integer.parseInt(rootLine.replaceAll(".* fileno=(\\d+)$", "$1"));
        assertEquals(mine, a.result("list sockets"));
        assertEquals("", b.result("list sockets"));
        assertEquals("", a.result("list sockets root*"));
        assertEquals("Error: rootweb not found", a.result("remove sockets rootweb"));
        assertEquals("Error: " + rootFd + " not found", a.result("remove sockets " + rootFd));
        assertEquals("Error: rootweb is in use by another user", a.result("make socket rootweb"));
        // a process of a cannot be handed root's socket
        assertEquals("Error: Socket rootweb not found", a.result("make process x /bin/echo $(socket.rootweb.fileno)"));
        assertEquals("Error: Socket rootweb not found", a.result("make process x sockets=rootweb /bin/true"));
        assertEquals("Error: Socket rootweb not found", a.result("make process x stdin_socket=rootweb /bin/true"));
        assertEquals("Error: Socket web not found", b.result("make process x /bin/echo $(socket.web.port)"));
        make(a, "echo /bin/echo $(socket.web.fileno)");
        assertTrue(stdoutUntilExit(a, "echo").strip().matches("\\d+"));
        assertEquals("Error: web not found", b.result("remove sockets web"));
        assertEquals("", a.result("remove sockets web"));
        assertEquals(rootLine, root.result("list sockets"));
    }

    @Test
    void workingDirAndLimitsTakeTheUsersRights() throws Exception {
        Conn root = root(), a = as(A);
        assertEquals("Error: Bad working_dir - [Errno 13] Permission denied: '/root'",
                a.result("make process x working_dir=/root /bin/pwd"));
        make(root, "rootpwd working_dir=/root /bin/pwd");
        assertEquals("/root\n", stdoutUntilExit(root, "rootpwd"));
        String line = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/limits")).stream()
                .filter(l -> l.startsWith("Max msgqueue size")).findFirst().orElseThrow();
        long hard = Long.parseLong(line.trim().split("\\s+")[4]);
        assertEquals("Error: Could not start x - rlimit failed: Operation not permitted (errno 1)",
                a.result("make process x rlimit.msgqueue=" + (hard + 1) + " /bin/true"));
        make(a, "lower rlimit.msgqueue=" + (hard - 1) + " /bin/cat /proc/self/limits");
        String limits = stdoutUntilExit(a, "lower");
        assertTrue(limits.matches("(?s).*\nMax msgqueue size +" + (hard - 1) + " +" + (hard - 1) + " +bytes.*"), limits);
        assertEquals("", a.result("list processes"));
    }

    @Test
    void changesAreLoggedWithTheUidAndRepeatedRefusalsOnce() throws Exception {
        java.util.List<String> lines = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.logging.Logger audit = java.util.logging.Logger.getLogger("dev.papa.daemon.principal.Audit");
        java.util.logging.Handler h = new java.util.logging.Handler() {
            @Override public void publish(java.util.logging.LogRecord r) { lines.add(r.getLevel() + " " + r.getMessage()); }
            @Override public void flush() { }
            @Override public void close() { }
        };
        audit.addHandler(h);
        try {
            Conn a = as(A);
            assertEquals("", a.result("set note secret-text"));
            assertEquals("", a.result("set note"));                    // no value: deleted
            assertEquals("", a.result("set gone 1"));
            assertEquals("", a.result("remove values gone"));
            String socket = a.result("make socket sock");
            assertEquals("", a.result("remove sockets sock"));
            long pid = make(a, "sl /bin/sleep 60");
            String process = a.result("list processes sl");
            assertEquals("", a.result("remove processes sl"));
            for (int i = 0; i < 50; i++) assertEquals("Error: permission denied: uid 0", a.result("make process x uid=0 /bin/true"));
            // every change, once each, in order, with the uid (and pid) of whoever made it
            String by = "INFO uid " + uidA + "(?: \\(pid \\d+\\))?: ";
            List<String> changes = lines.stream().filter(l -> !l.contains("Refused")).toList();
            List<String> expected = List.of(
                    by + "set value note \\(11 characters\\)",
                    by + "removed value note",
                    by + "set value gone \\(1 characters\\)",
                    by + "removed value gone",
                    by + "created socket " + Pattern.quote(socket),
                    by + "closed socket sock",
                    by + "created process " + Pattern.quote(process),
                    by + "removed process sl \\(pid " + pid + "\\)");
            assertEquals(expected.size(), changes.size(), changes.toString());
            for (int i = 0; i < expected.size(); i++) assertTrue(changes.get(i).matches(expected.get(i)), changes.get(i) + " / " + expected.get(i));
            assertTrue(lines.stream().noneMatch(l -> l.contains("secret-text")), lines.toString());
            assertEquals(1, lines.stream().filter(l -> l.contains("Refused uid " + uidA)).count(), lines.toString());
        } finally {
            audit.removeHandler(h);
        }
    }

    @Test
    void onlyAdministratorsMayStopTheDaemon() throws Exception {
        Conn a = as(A);
        assertEquals("Error: permission denied: exit-if-idle is for administrators", a.result("exit-if-idle"));
        assertEquals("Error: permission denied: upgrade is for administrators", a.result("upgrade"));
        assertEquals("", a.result("set x 1"));
    }
}
