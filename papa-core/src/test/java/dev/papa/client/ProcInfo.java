package dev.papa.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What /proc says about a process (for tests). */
public final class ProcInfo {
    private ProcInfo() {
    }

    /** Fields of /proc/PID/stat after the command: [0]=state, [1]=ppid, [2]=pgrp, [3]=session. */
    public static String[] stat(long pid) throws IOException {
        String s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        return s.substring(s.lastIndexOf(')') + 2).split(" ");
    }

    public static String cmdline(long pid) throws IOException {
        byte[] b = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
        return new String(b, StandardCharsets.UTF_8).replace('\0', ' ').trim();
    }

    public static String status(long pid, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(key + ":")) {
                return line.substring(key.length() + 1).trim();
            }
        }
        return null;
    }

    public static String link(long pid, String what) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc", Long.toString(pid), what)).toString();
    }

    /** Alive and not a zombie. */
    public static boolean alive(long pid) {
        try {
            return !stat(pid)[0].equals("Z");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Every daemon with a socket listening on the endpoint, by its top pid: under the keeper the
     * keeper and its daemon JVM hold the same listener, and count once, as the keeper.
     */
    public static List<Long> listeners(Endpoint endpoint) throws IOException {
        List<Long> all = listeningProcesses(endpoint);
        List<Long> tops = new ArrayList<>();
        for (long pid : all) {
            long parent;
            try {
                parent = Long.parseLong(stat(pid)[1]);
            } catch (IOException | RuntimeException gone) {
                parent = -1;
            }
            if (!all.contains(parent)) tops.add(pid);
        }
        return tops;
    }

    private static List<Long> listeningProcesses(Endpoint endpoint) throws IOException {
        if (endpoint.isUnix()) {
            return unixListeners(endpoint.path());
        }
        List<Long> r = new ArrayList<>();
        try (var ps = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
            for (Path p : ps) {
                int pid = Integer.parseInt(p.getFileName().toString());
                if (Boolean.TRUE.equals(DaemonLauncher.listensOn(pid, endpoint))) {
                    r.add((long) pid);
                }
            }
        }
        return r;
    }

    private static final Pattern SS_LISTENER = Pattern.compile(
            "u_(?:str|seq)\\s+LISTEN\\s+\\d+\\s+\\d+\\s+(\\S+)\\s.*?users:\\((.*?\\))\\)\\s.*?ino:(\\d+) dev:");
    private static final Pattern SS_PID = Pattern.compile("pid=(\\d+)");

    /**
     * Processes listening on a unix socket bound at {@code path}, from ss(8). /proc/net/unix is not
     * enough: a socket bound through a directory descriptor (docs/SECURITY.md) has the address
     * /proc/self/fd/N/NAME there, which matches NAME in any directory (the daemon of another test,
     * or of a second build beside this one, on its own papa.sock). ss also gives the inode of the
     * file it was bound to, which tells. A socket bound at the path by its name counts even when
     * its file was since replaced: a daemon that still listens there is what the callers look for.
     */
    static List<Long> unixListeners(Path path) throws IOException {
        Long inode;
        try {
            inode = ((Number) Files.getAttribute(path, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS)).longValue();
        } catch (java.nio.file.NoSuchFileException e) {
            inode = null;
        }
        Process ss = new ProcessBuilder("ss", "-xlpe").redirectErrorStream(true).start();
        String out = new String(ss.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (ss.waitFor() != 0) {
                throw new IOException("ss -xlpe: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        List<Long> r = new ArrayList<>();
        for (String line : out.split("\n")) {
            Matcher m = SS_LISTENER.matcher(line);
            if (!m.lookingAt()) {
                continue;
            }
            String address = m.group(1);
            boolean bound = address.equals(path.toString())
                    || (address.startsWith("/proc/self/fd/") && address.endsWith("/" + path.getFileName())
                        && inode != null && inode == Long.parseLong(m.group(3)));
            if (bound) {
                Matcher pid = SS_PID.matcher(m.group(2));
                while (pid.find()) {
                    r.add(Long.parseLong(pid.group(1)));
                }
            }
        }
        return r;
    }

    /** SIGTERM, then SIGKILL after 10 s; waits until it is gone (or a zombie). */
    public static void kill(long pid) throws InterruptedException {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (alive(pid) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (alive(pid)) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            while (alive(pid)) {
                Thread.sleep(20);
            }
        }
    }
}
