package dev.vswitch.pipeline;

import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

import java.util.concurrent.ConcurrentHashMap;

/**
 * Routes what libraries log through SLF4J (Chronicle Map, Chronicle Core) into {@link Log}, so the switch's output
 * has one format whoever writes the line: {@code INFO}, {@code WARN} and {@code ERROR} go to {@link Log} with the
 * logger's simple name as the subject; {@code DEBUG} and {@code TRACE} are off. Found by SLF4J's
 * {@link java.util.ServiceLoader} lookup (META-INF/services); no other provider is on the switch's classpath.
 */
public final class LogProvider implements SLF4JServiceProvider
{
    private ILoggerFactory loggers;
    private IMarkerFactory markers;
    private MDCAdapter mdc;

    @Override
    public ILoggerFactory getLoggerFactory()
    {
        return loggers;
    }

    @Override
    public IMarkerFactory getMarkerFactory()
    {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter()
    {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion()
    {
        return "2.0.99";
    }

    @Override
    public void initialize()
    {
        final ConcurrentHashMap<String, Logger> byName = new ConcurrentHashMap<>();
        loggers = name -> byName.computeIfAbsent(name, LogLogger::new);
        markers = new BasicMarkerFactory();
        mdc = new NOPMDCAdapter();
    }

    /** One SLF4J logger: a subject for {@link Log}. */
    private static final class LogLogger extends LegacyAbstractLogger
    {
        private static final long serialVersionUID = 1L;
        private final String subject;

        LogLogger(final String name)
        {
            this.name = name;
            this.subject = name.substring(name.lastIndexOf('.') + 1);
        }

        @Override
        public boolean isTraceEnabled()
        {
            return false;
        }

        @Override
        public boolean isDebugEnabled()
        {
            return false;
        }

        @Override
        public boolean isInfoEnabled()
        {
            return true;
        }

        @Override
        public boolean isWarnEnabled()
        {
            return true;
        }

        @Override
        public boolean isErrorEnabled()
        {
            return true;
        }

        @Override
        protected String getFullyQualifiedCallerName()
        {
            return null;
        }

        @Override
        protected void handleNormalizedLoggingCall(final Level level, final Marker marker, final String pattern,
            final Object[] arguments, final Throwable throwable)
        {
            final String message = MessageFormatter.basicArrayFormat(pattern, arguments) +
                (throwable == null ? "" : ": " + throwable);
            switch (level)
            {
                case ERROR -> Log.error(subject, message);
                case WARN -> Log.warn(subject, message);
                case INFO -> Log.info(subject, message);
                default ->
                {
                }
            }
        }
    }
}
