package dev.papa;

import dev.papa.cli.Ctl;
import dev.papa.cli.Daemonize;
import dev.papa.daemon.DaemonMain;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The jar's entry point: {@code ctl ...} runs the command-line client, {@code --daemonize}
 * starts a detached daemon, anything else runs the daemon in the foreground.
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("ctl")) {
            System.exit(Ctl.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
        }
        if (Arrays.asList(args).contains("--daemonize")) {
            List<String> rest = new ArrayList<>(Arrays.asList(args));
            rest.remove("--daemonize");
            System.exit(Daemonize.run(rest.toArray(new String[0]), System.out, System.err));
        }
        System.exit(DaemonMain.run(args, System.err));
    }
}
