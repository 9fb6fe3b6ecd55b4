package dev.vswitch.core.control;

import dev.vswitch.pipeline.Log;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The switch's control socket: a Unix stream socket (mode 0600) speaking one request line, one response line. A
 * request is at most {@link Limits#maxLineBytes} bytes up to its '\n'; the response is one line of JSON.
 * <p>
 * One selector thread owns every connection, so a client that connects and says nothing, sends half a line or stops
 * reading its answer holds only its own buffer and is dropped at its deadline; it never blocks another client.
 * Requests run one at a time on a single worker thread (they touch shared switch state, and the FDB's writes go
 * through {@link PmdTasks} anyway); a full worker queue answers "busy". Both threads are started by the control
 * plane after {@code HousekeepingAffinity} moved the process off the PMD CPUs, so they inherit the housekeeping
 * set and never run on a PMD's CPU.
 */
public final class ControlServer implements AutoCloseable
{
    /** Bounds on what clients may take. */
    public record Limits(int maxLineBytes, int maxClients, long requestTimeoutMillis, int maxQueuedRequests)
    {
        public static final Limits DEFAULT = new Limits(64 * 1024, 16, 5_000, 32);
    }

    /** Answers one request line with one response line (no '\n'). Called on the worker thread. */
    @FunctionalInterface
    public interface Handler
    {
        String handle(String request);
    }

    /** Builds the JSON error line for a request the server refuses before the handler sees it. */
    @FunctionalInterface
    public interface ErrorFormatter
    {
        String error(String message);
    }

    private static final String LOG = "control";

    private final Path path;
    private final Handler handler;
    private final ErrorFormatter errors;
    private final Limits limits;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final ExecutorService worker;
    private final ConcurrentLinkedQueue<Runnable> completions = new ConcurrentLinkedQueue<>();
    private final List<Client> clients = new ArrayList<>();
    private final Thread thread;
    private volatile boolean closed;

    private ControlServer(final Path path, final Handler handler, final ErrorFormatter errors, final Limits limits)
        throws IOException
    {
        this.path = path;
        this.handler = handler;
        this.errors = errors;
        this.limits = limits;
        removeStale(path);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try
        {
            server.bind(UnixDomainSocketAddress.of(path), 16);
            // Before the first accept: only root (the switch's user) may connect. The control socket can add ports
            // and rewrite the FDB, which is as much power as the configuration file.
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
            server.configureBlocking(false);
            selector = Selector.open();
            server.register(selector, SelectionKey.OP_ACCEPT);
        }
        catch (final IOException | RuntimeException ex)
        {
            server.close();
            Files.deleteIfExists(path);
            throw ex;
        }
        worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(limits.maxQueuedRequests()),
            r ->
            {
                final Thread t = new Thread(r, "control-worker");
                t.setDaemon(true);
                return t;
            });
        thread = new Thread(this::run, "control");
        thread.setDaemon(true);
    }

    /** Binds {@code path} (replacing a stale socket nobody serves) and starts serving. */
    public static ControlServer start(final Path path, final Handler handler, final ErrorFormatter errors,
        final Limits limits) throws IOException
    {
        final ControlServer cs = new ControlServer(path, handler, errors, limits);
        cs.thread.start();
        Log.info(LOG, "listening on " + path);
        return cs;
    }

    public Path path()
    {
        return path;
    }

    /** A socket file left by a switch that died is replaced; a live one (another switch) is an error. */
    private static void removeStale(final Path path) throws IOException
    {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (!Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class,
            java.nio.file.LinkOption.NOFOLLOW_LINKS).isOther())
        {
            // Only a socket file is ours to replace: never delete a file or directory a typo pointed at.
            throw new IOException(path + " exists and is not a socket");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX))
        {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new IOException("another process serves the control socket " + path);
        }
        catch (final IOException ex)
        {
            if (ex.getMessage() != null && ex.getMessage().startsWith("another process"))
            {
                throw ex;
            }
            Files.delete(path);   // connection refused: nobody listens
        }
    }

    private void run()
    {
        try
        {
            while (!closed)
            {
                // Deadlines are checked every 250 ms while there are clients; with none there is nothing to time out,
                // so the thread sleeps until a connection, a completion or close() wakes it (the CPU it would wake
                // on is one the switch shares with guests).
                selector.select(clients.isEmpty() ? 0 : 250);
                Runnable done;
                while ((done = completions.poll()) != null)
                {
                    done.run();
                }
                final Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext())
                {
                    final SelectionKey key = it.next();
                    it.remove();
                    if (!key.isValid())
                    {
                        continue;
                    }
                    if (key.isAcceptable())
                    {
                        accept();
                    }
                    else
                    {
                        final Client c = (Client)key.attachment();
                        if (key.isReadable())
                        {
                            c.onReadable();
                        }
                        if (key.isValid() && key.isWritable())
                        {
                            c.onWritable();
                        }
                    }
                }
                expire(System.nanoTime());
            }
        }
        catch (final IOException | ClosedSelectorException ex)
        {
            if (!closed)
            {
                Log.error(LOG, "control socket stopped: " + ex);
            }
        }
    }

    private void accept() throws IOException
    {
        final SocketChannel ch = server.accept();
        if (ch == null)
        {
            return;
        }
        ch.configureBlocking(false);
        final Client c = new Client(ch);
        if (clients.size() >= limits.maxClients())
        {
            // Told why, then closed: the answer fits any socket buffer, so this non-blocking write completes.
            c.respondAndClose(errors.error("too many control clients (at most " + limits.maxClients() + ")"));
            return;
        }
        clients.add(c);
        c.key = ch.register(selector, SelectionKey.OP_READ, c);
    }

    private void expire(final long now)
    {
        for (int i = clients.size() - 1; i >= 0; i--)
        {
            final Client c = clients.get(i);
            if (!c.busy && now - c.deadline > 0)
            {
                if (c.out == null && c.in.position() > 0)
                {
                    c.respondAndClose(errors.error("request not completed within " + limits.requestTimeoutMillis() +
                        " ms"));
                }
                else
                {
                    c.close();   // idle between requests, or not reading its answer
                }
            }
        }
    }

    @Override
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        selector.wakeup();
        try
        {
            thread.join(2000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        for (final Client c : new ArrayList<>(clients))
        {
            c.close();
        }
        worker.shutdownNow();
        try
        {
            selector.close();
            server.close();
            Files.deleteIfExists(path);
        }
        catch (final IOException ex)
        {
            Log.warn(LOG, "closing " + path + ": " + ex);
        }
    }

    /** One connection: its partial request, its pending answer, its deadline. Selector thread only. */
    private final class Client
    {
        final SocketChannel channel;
        final ByteBuffer in = ByteBuffer.allocate(limits.maxLineBytes());
        SelectionKey key;
        ByteBuffer out;
        boolean closeAfterWrite;
        boolean busy;
        long deadline;

        Client(final SocketChannel channel)
        {
            this.channel = channel;
            this.deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limits.requestTimeoutMillis());
        }

        void onReadable()
        {
            final int n;
            try
            {
                n = channel.read(in);
            }
            catch (final IOException ex)
            {
                close();
                return;
            }
            if (n < 0)
            {
                close();
                return;
            }
            final int end = lineEnd();
            if (end >= 0)
            {
                final String line = new String(in.array(), 0, end, StandardCharsets.UTF_8).strip();
                in.clear();   // one request at a time: bytes after the first '\n' are not a request yet
                dispatch(line);
            }
            else if (!in.hasRemaining())
            {
                respondAndClose(errors.error("request longer than " + limits.maxLineBytes() + " bytes"));
            }
        }

        private int lineEnd()
        {
            final byte[] a = in.array();
            for (int i = 0; i < in.position(); i++)
            {
                if (a[i] == '\n')
                {
                    return i;
                }
            }
            return -1;
        }

        private void dispatch(final String line)
        {
            busy = true;
            key.interestOps(0);   // nothing more is read until this request is answered
            try
            {
                worker.execute(() ->
                {
                    String answer;
                    try
                    {
                        answer = handler.handle(line);
                    }
                    catch (final RuntimeException ex)
                    {
                        answer = errors.error("internal error: " + ex);
                    }
                    final String reply = answer;
                    completions.add(() -> respond(reply, false));
                    selector.wakeup();
                });
            }
            catch (final RejectedExecutionException ex)
            {
                respond(errors.error("control plane busy; try again"), false);
            }
        }

        void respondAndClose(final String line)
        {
            respond(line, true);
        }

        private void respond(final String line, final boolean thenClose)
        {
            busy = false;
            if (!channel.isOpen())
            {
                return;
            }
            out = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            closeAfterWrite = thenClose;
            deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limits.requestTimeoutMillis());
            onWritable();
        }

        void onWritable()
        {
            if (out == null)
            {
                return;
            }
            try
            {
                channel.write(out);
            }
            catch (final IOException ex)
            {
                close();
                return;
            }
            if (out.hasRemaining())
            {
                if (key != null)
                {
                    key.interestOps(SelectionKey.OP_WRITE);
                }
                else
                {
                    close();   // refused at accept and cannot even take the error line
                }
                return;
            }
            out = null;
            if (closeAfterWrite || key == null)
            {
                close();
                return;
            }
            key.interestOps(SelectionKey.OP_READ);
            deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limits.requestTimeoutMillis());
        }

        void close()
        {
            clients.remove(this);
            if (key != null)
            {
                key.cancel();
            }
            try
            {
                channel.close();
            }
            catch (final IOException ignored)
            {
                // closing anyway
            }
        }
    }
}
