package io.github.cogvideox4j.lora.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import io.github.cogvideox4j.core.dist.DistributedEnvironment;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.slf4j.LoggerFactory;

/**
 * What a {@code cogvideox} process does because it is one rank of a multi-rank run (torchrun-style variables, see
 * {@link DistributedEnvironment}): the one-voice logging set-up, the group options the launcher passes on, and the
 * watch on the launcher that keeps a rank from outliving it.
 *
 * <p>Variables of our own, set by {@code cogvideox launch} (and settable by hand under Slurm or Kubernetes):
 * {@value #TIMEOUT_ENV} (seconds; the rendezvous and collective timeout of every group the commands form) and
 * {@value #LAUNCHER_PID_ENV} (the launcher's process id: the rank exits when that process is gone, and the launcher
 * already prefixes every output line with the rank).
 *
 * <p>Thread safety: the static methods may be called from any thread; {@link #setUp} is meant to run once, first
 * thing in {@code main}.
 */
final class RankRuntime {
    /** Seconds the rendezvous and every collective may take (the launcher's {@code --timeout-seconds}). */
    static final String TIMEOUT_ENV = "COGVIDEOX_DIST_TIMEOUT_SECONDS";
    /** Process id of the {@code cogvideox launch} process that started this rank. */
    static final String LAUNCHER_PID_ENV = "COGVIDEOX_LAUNCHER_PID";
    /** Exit status of a rank whose launcher has gone. */
    static final int LAUNCHER_GONE_STATUS = 70;

    private RankRuntime() {}

    /**
     * Sets up this process as a rank: one voice (ranks other than 0 log warnings and errors only), the rank in every
     * log line of a multi-rank run that no launcher prefixes, and the watch on the launcher. Does nothing for a
     * process that runs alone.
     *
     * @param env the process's variables
     * @throws IllegalArgumentException naming the variable when the torchrun-style variables are inconsistent
     */
    static void setUp(Map<String, String> env) {
        DistributedEnvironment dist = DistributedEnvironment.from(env);
        if (dist.isDistributed() || env.containsKey("RANK")) {
            boolean prefixed = env.containsKey(LAUNCHER_PID_ENV);
            configureLogging(dist.rank(), dist.isDistributed() && !prefixed);
        }
        launcherPid(env).ifPresent(RankRuntime::exitWithLauncher);
    }

    /**
     * The options of the groups a command forms: the timeout from {@value #TIMEOUT_ENV} when set (else the default)
     * and the given fingerprint.
     *
     * @param env the process's variables
     * @param fingerprint what every rank must agree on (empty: not checked)
     * @return the options
     * @throws IllegalArgumentException if {@value #TIMEOUT_ENV} is not a positive integer
     */
    static ProcessGroup.Options groupOptions(Map<String, String> env, String fingerprint) {
        ProcessGroup.Options.Builder b = ProcessGroup.Options.builder().fingerprint(fingerprint);
        String t = env.get(TIMEOUT_ENV);
        if (t != null && !t.isBlank()) {
            long seconds;
            try {
                seconds = Long.parseLong(t.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(TIMEOUT_ENV + " must be a whole number of seconds, got '" + t + "'",
                        e);
            }
            if (seconds <= 0) {
                throw new IllegalArgumentException(TIMEOUT_ENV + " must be positive, got " + seconds);
            }
            b.timeout(Duration.ofSeconds(seconds));
        }
        return b.build();
    }

    private static OptionalLong launcherPid(Map<String, String> env) {
        String v = env.get(LAUNCHER_PID_ENV);
        if (v == null || v.isBlank()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(v.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(LAUNCHER_PID_ENV + " must be a process id, got '" + v + "'", e);
        }
    }

    /** A rank whose launcher was killed (SIGKILL runs no shutdown hook there) ends itself: no orphan ranks. */
    private static void exitWithLauncher(long pid) {
        Optional<ProcessHandle> launcher = ProcessHandle.of(pid);
        if (launcher.isEmpty()) {
            System.err.printf("cogvideox: the launcher (pid %d) is gone; exiting%n", pid);
            System.exit(LAUNCHER_GONE_STATUS);
        }
        launcher.get().onExit().thenRun(() -> {
            System.err.printf("cogvideox: the launcher (pid %d) is gone; exiting%n", pid);
            System.exit(LAUNCHER_GONE_STATUS);
        });
    }

    /** Logback only when it is the SLF4J binding (the CLI's runtime class path); another binding is left alone. */
    private static void configureLogging(int rank, boolean tagLines) {
        if (!"ch.qos.logback.classic.LoggerContext".equals(LoggerFactory.getILoggerFactory().getClass().getName())) {
            return;
        }
        Logback.configure(rank, tagLines);
    }

    /** The only code that touches logback classes, loaded only when logback is bound. */
    private static final class Logback {
        private Logback() {}

        static void configure(int rank, boolean tagLines) {
            LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
            if (rank != 0) {
                for (ch.qos.logback.classic.Logger logger : context.getLoggerList()) {
                    Level level = logger.getLevel();
                    if (level != null && !level.isGreaterOrEqual(Level.WARN)) {
                        logger.setLevel(Level.WARN);
                    }
                }
                context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(Level.WARN);
            }
            if (tagLines) {
                ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
                for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
                    if (it.next() instanceof OutputStreamAppender<ILoggingEvent> appender) {
                        tag(appender, rank, context);
                    }
                }
            }
        }

        private static void tag(OutputStreamAppender<ILoggingEvent> appender, int rank, LoggerContext context) {
            Encoder<ILoggingEvent> old = appender.getEncoder();
            if (!(old instanceof PatternLayoutEncoder pattern) || pattern.getPattern() == null) {
                return;
            }
            PatternLayoutEncoder tagged = new PatternLayoutEncoder();
            tagged.setContext(context);
            tagged.setCharset(pattern.getCharset());
            tagged.setPattern("[rank " + rank + "] " + pattern.getPattern());
            tagged.start();
            appender.setEncoder(tagged);
            old.stop();
        }
    }
}
