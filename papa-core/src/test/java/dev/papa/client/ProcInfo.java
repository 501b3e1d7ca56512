package dev.papa.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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

    /** Every process with a socket listening on the endpoint. */
    public static List<Long> listeners(Endpoint endpoint) throws IOException {
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
