package dev.vswitch.pipeline.stages;

import dev.vswitch.pipeline.Stage;
import dev.vswitch.pipeline.spi.StageContext;
import dev.vswitch.pipeline.spi.StageFactory;
import dev.vswitch.pipeline.spi.StageSettings;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code acl: {rules: [ {drop: MATCH} | {allow: MATCH}, ... ], default: allow|drop}}; see {@link AclStage}. MATCH
 * is a mapping of any of: ethertype, src-mac, dst-mac, vlan, ip-proto, src-ip, dst-ip (IPv4, CIDR or a single
 * address), src-port, dst-port (TCP/UDP), in-port (a port name). An empty MATCH matches every frame.
 */
public final class AclStageFactory implements StageFactory
{
    private static final String[] MATCH_KEYS =
        { "ethertype", "src-mac", "dst-mac", "vlan", "ip-proto", "src-ip", "dst-ip", "src-port", "dst-port", "in-port" };
    private static final Pattern MAC = Pattern.compile("[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}");
    private static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})(?:/(\\d{1,2}))?");

    @Override
    public String name()
    {
        return AclStage.NAME;
    }

    @Override
    public Stage create(final StageContext context, final StageSettings settings)
    {
        settings.allowOnly("rules", "default");
        final StageSettings defaultField = settings.get("default");
        final String defaultAction = defaultField.string("allow");
        if (!defaultAction.equals("allow") && !defaultAction.equals("drop"))
        {
            throw defaultField.error("must be allow or drop, got '" + defaultAction + "'");
        }
        final List<AclRule> rules = new ArrayList<>();
        for (final StageSettings item : settings.get("rules").list())
        {
            rules.add(rule(context, item));
        }
        final AclStage stage = new AclStage(rules, defaultAction.equals("drop"));
        for (int i = 0; i < rules.size(); i++)
        {
            final int index = i;
            context.counter("acl_hits", "Frames an ACL rule decided (first match)", () -> stage.hits(index),
                "rule", Integer.toString(i), "match", rules.get(i).description);
        }
        context.counter("acl_hits", "Frames an ACL rule decided (first match)", stage::defaultHits,
            "rule", "default", "match", defaultAction);
        return stage;
    }

    private static AclRule rule(final StageContext context, final StageSettings item)
    {
        if (!item.isMapping() || item.keys().size() != 1)
        {
            throw item.error("a rule is {drop: MATCH} or {allow: MATCH}");
        }
        item.allowOnly("drop", "allow");
        final String action = item.keys().iterator().next();
        final StageSettings match = item.get(action);
        match.allowOnly(MATCH_KEYS);
        final StringBuilder text = new StringBuilder(action);
        for (final String key : match.keys())
        {
            text.append(' ').append(key).append('=').append(match.get(key).string());
        }
        final AclRule rule = new AclRule(action.equals("drop"), text.toString());
        for (final String key : match.keys())
        {
            final StageSettings f = match.get(key);
            switch (key)
            {
                case "ethertype" -> rule.etherType((int)f.integer(0, 0xffff));
                case "src-mac" -> rule.srcMac(mac(f));
                case "dst-mac" -> rule.dstMac(mac(f));
                case "vlan" -> rule.vlan((int)f.integer(0, 4095));
                case "ip-proto" -> rule.ipProto((int)f.integer(0, 255));
                case "src-ip" -> rule.srcIp(ipv4(f), prefix(f));
                case "dst-ip" -> rule.dstIp(ipv4(f), prefix(f));
                case "src-port" -> rule.srcPort((int)f.integer(0, 65535));
                case "dst-port" -> rule.dstPort((int)f.integer(0, 65535));
                case "in-port" -> rule.inPort(context.portId(f));
                default -> throw f.error("unknown match field");   // allowOnly above already refused it
            }
        }
        return rule;
    }

    static long mac(final StageSettings field)
    {
        final String text = field.string();
        if (!MAC.matcher(text).matches())
        {
            throw field.error("expected a MAC address like 02:00:00:00:00:01, got '" + text + "'");
        }
        return Long.parseLong(text.replace(":", ""), 16);
    }

    private static Matcher cidr(final StageSettings field)
    {
        final String text = field.string();
        final Matcher m = CIDR.matcher(text);
        if (!m.matches())
        {
            throw field.error("expected an IPv4 address or CIDR like 10.0.0.0/8, got '" + text + "'");
        }
        return m;
    }

    static int ipv4(final StageSettings field)
    {
        final Matcher m = cidr(field);
        int address = 0;
        for (int i = 1; i <= 4; i++)
        {
            final int octet = Integer.parseInt(m.group(i));
            if (octet > 255)
            {
                throw field.error("octet " + octet + " is over 255 in '" + m.group() + "'");
            }
            address = (address << 8) | octet;
        }
        return address;
    }

    static int prefix(final StageSettings field)
    {
        final Matcher m = cidr(field);
        if (m.group(5) == null)
        {
            return 32;
        }
        final int prefix = Integer.parseInt(m.group(5));
        if (prefix > 32)
        {
            throw field.error("prefix length must be 0..32, got /" + prefix);
        }
        return prefix;
    }
}
