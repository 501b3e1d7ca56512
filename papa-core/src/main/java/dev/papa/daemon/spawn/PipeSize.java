package dev.papa.daemon.spawn;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * The size of every hosted process's output pipes ({@code --pipe-size}; docs/KEEPER.md, "Output
 * pipes"): how much a process can write while nothing reads, as while the keeper restarts a JVM.
 *
 * <p>By default 1 MiB under the keeper, but only for a daemon the kernel's per-user pipe limits
 * do not apply to (CAP_SYS_RESOURCE or CAP_SYS_ADMIN): for any other user, once its pipes hold
 * {@code /proc/sys/fs/pipe-user-pages-soft} pages (64 MiB, 32 processes at 1 MiB a pipe) every
 * further pipe it makes, its hosted programs' own included, gets 8 KiB instead of 64 KiB.
 * Otherwise, and without the keeper, the kernel's 64 KiB. Never above
 * {@code /proc/sys/fs/pipe-max-size}.
 */
public final class PipeSize {
    public static final int KEEPER_DEFAULT = 1 << 20;
    /** The smallest and largest {@code --pipe-size} other than 0 (the kernel's default). */
    public static final long MIN = 4096, MAX = 1L << 30;
    private static final int CAP_SYS_ADMIN = 21, CAP_SYS_RESOURCE = 24;
    private static final Logger LOG = Logger.getLogger(PipeSize.class.getName());

    private PipeSize() {}

    /**
     * The bytes to ask of each output pipe, 0 for the kernel's default. {@code asked}: the
     * option's value, -1 when not given; {@code capEff}: the effective capability bits.
     */
    static int choose(long asked, boolean underKeeper, long capEff, long pipeMaxSize) {
        boolean unlimited = (capEff & (1L << CAP_SYS_RESOURCE | 1L << CAP_SYS_ADMIN)) != 0;
        long size = asked >= 0 ? asked : underKeeper && unlimited ? KEEPER_DEFAULT : 0;
        return (int) Math.min(size, pipeMaxSize);
    }

    /** {@link #choose} for this process; says so when an asked size is over pipe-max-size. */
    public static int choose(long asked, boolean underKeeper) {
        long max = MAX;
        long capEff = 0;
        try {
            // one read: a sysctl file read at an offset is empty, and Files.readString reads "1" here
            max = Long.parseLong(Files.readAllLines(Path.of("/proc/sys/fs/pipe-max-size")).get(0).trim());
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) capEff = Long.parseUnsignedLong(line.substring(7).trim(), 16);
            }
        } catch (IOException | RuntimeException e) {
            LOG.fine(() -> "pipe limits unknown: " + e);
        }
        int size = choose(asked, underKeeper, capEff, max);
        if (asked > size) LOG.warning("--pipe-size " + asked + " is over /proc/sys/fs/pipe-max-size: pipes get " + size + " bytes");
        return size;
    }
}
