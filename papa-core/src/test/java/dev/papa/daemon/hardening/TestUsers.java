package dev.papa.daemon.hardening;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Real users and a group for permission tests, made with useradd/groupadd and removed with
 * userdel/groupdel ({@link #close}, called from {@code @AfterAll}, so also after a failure).
 * Names are unique to this suite (issue 10): leftovers of a killed run are removed first.
 * Users are machine-wide, so two builds running side by side would delete each other's: the
 * users are held under a lock file from creation to removal.
 */
final class TestUsers implements AutoCloseable {
    final String group;
    private final List<String> users = new ArrayList<>();
    private final java.nio.channels.FileChannel lock;

    private TestUsers(String group) throws IOException {
        this.group = group;
        this.lock = java.nio.channels.FileChannel.open(java.nio.file.Path.of("/tmp/papa-test-users-" + group + ".lock"),
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
        lock.lock(); // blocks while another build holds these users; released by close (or the JVM's exit)
    }

    /** Users {@code names} with their own groups; the first also belongs to {@code group}. */
    static TestUsers create(String group, String... names) throws IOException, InterruptedException {
        TestUsers t = new TestUsers(group);
        try {
            for (String n : names) run(false, "userdel", n);
            run(false, "groupdel", group);
            run(true, "groupadd", group);
            for (int i = 0; i < names.length; i++) {
                List<String> cmd = new ArrayList<>(List.of("useradd", "--no-create-home", "--user-group", "--shell", "/bin/sh"));
                if (i == 0) cmd.addAll(List.of("--groups", group));
                cmd.add(names[i]);
                run(true, cmd.toArray(new String[0]));
                t.users.add(names[i]);
            }
            return t;
        } catch (IOException | RuntimeException e) {
            t.close();
            throw e;
        }
    }

    int uid(String name) throws IOException, InterruptedException {
        return Integer.parseInt(output("id", "-u", name).strip());
    }

    int gid(String name) throws IOException, InterruptedException {
        return Integer.parseInt(output("id", "-g", name).strip());
    }

    int groupId() throws IOException, InterruptedException {
        return Integer.parseInt(output("getent", "group", group).split(":")[2]);
    }

    @Override
    public void close() {
        try {
            for (String n : users) run(false, "userdel", n);
            run(false, "groupdel", group);
        } catch (IOException | InterruptedException e) {
            throw new AssertionError("cannot remove the test users " + users, e);
        } finally {
            try {
                lock.close();
            } catch (IOException ignored) {
                // closing releases the lock; the JVM's exit would too
            }
        }
    }

    static String output(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + ": " + out);
        return out;
    }

    private static void run(boolean check, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " timed out");
        }
        if (check && p.exitValue() != 0) throw new IOException(String.join(" ", cmd) + " failed: " + out);
    }
}
