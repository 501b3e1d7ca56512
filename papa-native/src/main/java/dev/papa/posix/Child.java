package dev.papa.posix;

/**
 * A started process: its pid, a pidfd to poll for its exit (readable once it has
 * exited; reap it with {@link Processes#reap}), and the parent's read ends of its
 * output pipes (O_NONBLOCK|O_CLOEXEC; null when that stream is not a pipe). The
 * caller owns every Fd in it.
 */
public record Child(int pid, Fd pidfd, Fd stdout, Fd stderr) {}
