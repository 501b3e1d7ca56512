package dev.papa.daemon;

import static dev.papa.daemon.ProtocolClient.out;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every process's queue is an output store in a memfd of the daemon's (issue 23): none of them
 * reaches a child, which gets exactly 0-2 (spawn closes everything it was not asked to pass).
 */
class StoreDescriptorsTest extends DaemonTestBase {
    @Test
    void aChildGetsNoOutputStore() throws Exception {
        ProtocolClient c = connect();
        for (int i = 0; i < 5; i++) make(c, "s" + i + " /bin/sleep 30"); // their stores are open in the daemon
        Path lister = script("lister.py", "import os\n"
                + "for f in sorted(os.listdir('/proc/self/fd'), key=int):\n"
                + "    try: print(f, os.readlink('/proc/self/fd/' + f))\n"
                + "    except OSError: pass\n");
        make(c, "lister /usr/bin/python3 " + lister);
        String listed = out(watchAll(c, "lister", 1));
        List<String> fds = new ArrayList<>();
        for (String line : listed.split("\n")) {
            String[] w = line.split(" ", 2);
            assertFalse(w.length > 1 && w[1].contains("memfd"), "a memfd reached the child: " + listed);
            if (!(w.length > 1 && w[1].startsWith("/proc/"))) fds.add(w[0]); // the listing's own directory aside
        }
        assertEquals(List.of("0", "1", "2"), fds, listed);
        assertTrue(Files.exists(lister));
    }
}
