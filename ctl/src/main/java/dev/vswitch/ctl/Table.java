package dev.vswitch.ctl;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** Human output: columns padded to their widest cell, a header row, two spaces between columns. */
final class Table
{
    private final List<String[]> rows = new ArrayList<>();
    private final int columns;

    Table(final String... header)
    {
        columns = header.length;
        rows.add(header);
    }

    Table row(final Object... cells)
    {
        final String[] row = new String[columns];
        for (int i = 0; i < columns; i++)
        {
            row[i] = i < cells.length && cells[i] != null ? cells[i].toString() : "";
        }
        rows.add(row);
        return this;
    }

    void print(final PrintWriter out)
    {
        final int[] width = new int[columns];
        for (final String[] row : rows)
        {
            for (int i = 0; i < columns; i++)
            {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        final StringBuilder sb = new StringBuilder();
        for (final String[] row : rows)
        {
            sb.setLength(0);
            for (int i = 0; i < columns; i++)
            {
                sb.append(row[i]);
                if (i < columns - 1)
                {
                    sb.append(" ".repeat(width[i] - row[i].length() + 2));
                }
            }
            out.println(sb.toString().stripTrailing());
        }
        out.flush();
    }
}
