package dev.papa.daemon.keeper;

import dev.papa.daemon.upgrade.Relaunch;
import dev.papa.posix.Keeper;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code java -jar papa-core.jar --keeper [OPTIONS]}: this JVM becomes the keeper (same pid),
 * which starts the daemon JVM with the same options and {@link KeeperLink#OPTION}.
 */
public final class KeeperStart {
    public static final String OPTION = "--keeper";
    public static final String NO_KEEPER = "--no-keeper";

    private KeeperStart() {}

    /** Returns only when the keeper cannot be executed: the exit status. */
    public static int run(List<String> daemonArgs, PrintStream err) {
        List<String> args = new ArrayList<>();
        String launcher = valueOf(daemonArgs, "--launcher");
        args.add("--title");
        args.add(launcher == null ? "papa keeper" : "papa keeper from " + launcher);
        String log = valueOf(daemonArgs, "--log-file");
        if (log != null) {
            args.add("--log");
            args.add(log);
        }
        args.add("--");
        List<String> daemon = new ArrayList<>(daemonArgs);
        daemon.add(KeeperLink.OPTION);
        args.addAll(Relaunch.current().command(daemon));
        try {
            Keeper.exec(args);
        } catch (IOException | RuntimeException e) {
            err.println("papa: cannot start the keeper: " + e.getMessage());
        }
        return 1;
    }

    /** The value of {@code option V} or {@code option=V}, the last one given; null when absent. */
    private static String valueOf(List<String> args, String option) {
        String value = null;
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals(option) && i + 1 < args.size()) value = args.get(++i);
            else if (a.startsWith(option + "=")) value = a.substring(option.length() + 1);
        }
        return value;
    }
}
