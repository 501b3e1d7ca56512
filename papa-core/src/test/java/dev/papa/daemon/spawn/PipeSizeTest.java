package dev.papa.daemon.spawn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The output pipes' size: --pipe-size, else 1 MiB under the keeper only where the kernel's per-user pipe limits do not apply. */
class PipeSizeTest {
    static final long NONE = 0, SYS_ADMIN = 1L << 21, SYS_RESOURCE = 1L << 24, SETGID = 1L << 6, MAX = 1 << 20;

    @Test
    void theDefaultIsAMiBUnderTheKeeperWithCapSysResourceOrCapSysAdmin() {
        assertEquals(1 << 20, PipeSize.choose(-1, true, SYS_RESOURCE, MAX));
        assertEquals(1 << 20, PipeSize.choose(-1, true, SYS_ADMIN, MAX));
        assertEquals(0, PipeSize.choose(-1, true, SETGID, MAX), "limited per user: the kernel's default");
        assertEquals(0, PipeSize.choose(-1, true, NONE, MAX));
        assertEquals(0, PipeSize.choose(-1, false, SYS_RESOURCE | SYS_ADMIN, MAX), "without the keeper: the kernel's default");
    }

    @Test
    void anAskedSizeIsTakenUpToPipeMaxSize() {
        assertEquals(256 << 10, PipeSize.choose(256 << 10, false, NONE, MAX));
        assertEquals(0, PipeSize.choose(0, true, SYS_RESOURCE, MAX), "0: the kernel's default, also under the keeper");
        assertEquals(1 << 20, PipeSize.choose(8 << 20, true, SYS_RESOURCE, MAX));
        assertEquals(512 << 10, PipeSize.choose(-1, true, SYS_ADMIN, 512 << 10), "an administrator's lower pipe-max-size");
    }
}
