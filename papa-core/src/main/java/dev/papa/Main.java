package dev.papa;

import dev.papa.cli.Ctl;
import dev.papa.cli.Daemonize;
import dev.papa.daemon.DaemonMain;
import dev.papa.daemon.keeper.KeeperStart;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The jar's entry point: {@code ctl ...} runs the command-line client, {@code --daemonize}
 * starts a detached daemon; anything else runs the daemon in the foreground, under the keeper
 * (docs/KEEPER.md: this JVM becomes the keeper, in the same pid, and starts the daemon JVM)
 * unless {@code --no-keeper}.
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
        List<String> daemonArgs = new ArrayList<>(Arrays.asList(args));
        boolean alone = daemonArgs.remove(KeeperStart.NO_KEEPER);
        daemonArgs.remove(KeeperStart.OPTION); // the default; still accepted
        // the usage, a bad option and the upgrade's own steps need no keeper
        if (!alone && DaemonMain.startsDaemon(daemonArgs)) System.exit(KeeperStart.run(daemonArgs, System.err));
        System.exit(DaemonMain.run(daemonArgs.toArray(new String[0]), System.err));
    }
}
