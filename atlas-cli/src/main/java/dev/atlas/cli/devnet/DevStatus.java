package dev.atlas.cli.devnet;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Objects;

/**
 * What {@code atlas dev status} shows. {@link #toJson()} is exactly
 * {@code {"components":[{"name","url","pid","state"}],"apps":[{"name","app_id","url","attest"}]}}.
 */
public record DevStatus(List<Component> components, List<App> apps) {
    public DevStatus {
        components = List.copyOf(Objects.requireNonNull(components, "components"));
        apps = List.copyOf(Objects.requireNonNull(apps, "apps"));
    }

    /**
     * One component process.
     *
     * @param name auth, kms-cvm, kms, gateway-cvm, gateway, vmm
     * @param url where it serves (its main URL)
     * @param pid its process id, or -1 when it is not running
     * @param state {@code running}, {@code stopped} (no process) or {@code dead} (pid file names a gone process)
     */
    public record Component(String name, String url, long pid, String state) {
        public Component {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(state, "state");
        }
    }

    /**
     * One deployed app.
     *
     * @param name its name in the VMM
     * @param appId 40 hex digits
     * @param url its URL through the gateway, the guide's format {@code https://<app_id>[-<port>[s|g]].<base>:<port>/}
     * @param attest the exact {@code atlas get} command line that attests it through the gateway
     */
    public record App(String name, String appId, String url, String attest) {
        public App {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(appId, "appId");
            Objects.requireNonNull(url, "url");
            Objects.requireNonNull(attest, "attest");
        }
    }

    /** The shape, compact, field order as above. */
    public String toJson() {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        ArrayNode cs = root.putArray("components");
        for (Component c : components) {
            ObjectNode o = cs.addObject();
            o.put("name", c.name());
            o.put("url", c.url());
            o.put("pid", c.pid());
            o.put("state", c.state());
        }
        ArrayNode as = root.putArray("apps");
        for (App a : apps) {
            ObjectNode o = as.addObject();
            o.put("name", a.name());
            o.put("app_id", a.appId());
            o.put("url", a.url());
            o.put("attest", a.attest());
        }
        return root.toString();
    }
}
