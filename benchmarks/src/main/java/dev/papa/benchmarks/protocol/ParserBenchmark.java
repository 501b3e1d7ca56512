package dev.papa.benchmarks.protocol;

import dev.papa.daemon.protocol.Command;
import dev.papa.daemon.protocol.CommandError;
import dev.papa.daemon.protocol.Words;
import org.openjdk.jmh.annotations.*;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The request parser: a {@code make process} line with 50 {@code env.*} options (as Circus
 * sends them), split into words ({@link Words#split}); then split + command resolution
 * ({@link Command#take}) + option extraction ({@link Words#takeOptions}), which is what
 * {@code Session#execute} and {@code ProcessTable#make} do before spawning; and a short
 * {@code l p} line. {@code list processes} over 1,000 entries is measured end to end by
 * {@code LoadHarness} (it needs real hosted processes).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms256m", "-Xmx256m"})
public class ParserBenchmark {
    String makeLine;
    int makeLineBytes;

    @Setup
    public void setup() {
        StringBuilder sb = new StringBuilder("make process web.worker-1 working_dir=/srv/app bufsize=4m stderr=stdout");
        for (int i = 0; i < 50; i++) {
            sb.append(" env.VARIABLE_").append(i).append('=').append("some/value\\ with\\ spaces:").append(i * 7919);
        }
        sb.append(" /usr/bin/python3 -m gunicorn --bind fd://$(socket.web.fileno) app:main");
        makeLine = sb.toString();
        makeLineBytes = makeLine.getBytes(StandardCharsets.UTF_8).length;
        System.out.println("\n[parser] make line: " + makeLineBytes + " bytes, " + Words.split(makeLine).size() + " words");
    }

    @Benchmark
    public List<String> splitMakeProcess50Env() {
        return Words.split(makeLine);
    }

    @Benchmark
    public Map<String, String> parseMakeProcess50Env() throws CommandError {
        List<String> words = Words.split(makeLine);
        Command c = Command.take(words, false);
        if (c != Command.MAKE_PROCESS) throw new AssertionError(c);
        words.remove(0); // the name
        return Words.takeOptions(words);
    }

    @Benchmark
    public Command parseListProcesses() throws CommandError {
        return Command.take(Words.split("l p"), false);
    }
}
