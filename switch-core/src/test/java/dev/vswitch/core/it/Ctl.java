package dev.vswitch.core.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vswitch.ctl.VswitchCtl;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** vswitchctl as the tests run it: the real CLI's entry point in this JVM, its exit code and both outputs kept. */
final class Ctl
{
    private static final ObjectMapper JSON = new ObjectMapper();

    record Result(int code, String out, String err) {}

    private Ctl()
    {
    }

    static Result run(final String... args)
    {
        final StringWriter out = new StringWriter();
        final StringWriter err = new StringWriter();
        final int code = VswitchCtl.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    /** The {@code result} of a successful {@code --json} answer; fails the test on any other outcome. */
    static JsonNode ok(final Result r)
    {
        assertEquals(0, r.code(), r.out() + r.err());
        try
        {
            final JsonNode answer = JSON.readTree(r.out());
            assertTrue(answer.path("ok").asBoolean(), r.out());
            return answer.path("result");
        }
        catch (final IOException ex)
        {
            throw new AssertionError(r.out(), ex);
        }
    }
}
