#!/usr/bin/env python3
"""What one crm_simulate run decided, as plain lines for crm/tests/scheduler.sh.

  transition.py facts SIM.xml GRAPH.xml
      SIM.xml is `crm_simulate -S --output-as=xml` (schema api-result.rng), GRAPH.xml its
      `--save-graph`. One fact a line:
        before RSC NODE        RSC (a primitive; a clone instance by its primitive's id)
        after RSC NODE         runs on NODE before / after the transition
        act OP RSC NODE        the transition runs OP (start, stop, promote, ...; never a
                               monitor) of RSC on NODE
        implied OP RSC         a pseudo-action (a stop implied by fencing, ...)
        fence NODE DELAY       NODE is fenced; DELAY is the priority-fencing-delay (s) the
                               graph gives the fencer, 0 when none
        summary TEXT           one line of the transition summary, as crm_simulate says it
        order LATER EARLIER    the action LATER (OP:RSC:NODE) waits, directly or through
                               other actions, for the action EARLIER
"""
import sys
import xml.etree.ElementTree as ET


def base(rsc):
    return rsc.split(":")[0]


def running(status):
    out = []
    if status is None:
        return out
    for r in status.iter("resource"):
        if r.get("active") == "true" and r.get("role") in ("Started", "Promoted", "Unpromoted", "Master", "Slave"):
            for n in r.findall("node"):
                out.append((r.get("id"), n.get("name")))
    return out


def summary(actions):
    for a in actions:
        if a.tag == "node_action":
            yield f"{a.get('task')} {a.get('node')}: {a.get('reason', '')}"
        elif a.get("source"):
            yield f"{a.get('action')} {a.get('resource')} {a.get('source')} -> {a.get('dest')}" + (
                f" ({a.get('reason')})" if a.get("reason") else "")
        else:
            yield f"{a.get('action')} {a.get('resource')} {a.get('node', '')}" + (
                f" ({a.get('reason')})" if a.get("reason") else "")


def facts(sim_path, graph_path):
    sim = ET.parse(sim_path).getroot()
    for rsc, node in running(sim.find("cluster_status")):
        print("before", rsc, node)
    for rsc, node in running(sim.find("revised_cluster_status")):
        print("after", rsc, node)
    for a in sim.find("transition") if sim.find("transition") is not None else []:
        if a.tag == "rsc_action" and a.get("op") != "monitor":
            print("act", a.get("op"), base(a.get("resource")), a.get("node"))
        elif a.tag == "pseudo_action":
            rsc, _, op = a.get("task").rpartition("_")[0].rpartition("_")
            print("implied", op, base(rsc))
    graph = ET.parse(graph_path).getroot()
    for ev in graph.findall("synapse/action_set/crm_event"):
        if ev.get("operation") == "stonith":
            attrs = ev.find("attributes")
            delay = attrs.get("CRM_meta_priority_fencing_delay", "0") if attrs is not None else "0"
            print("fence", ev.get("on_node"), delay)
    actions = sim.find("actions")
    for line in summary(actions if actions is not None else []):
        print("summary", line)
    for later, earlier in orders(graph):
        print("order", later, earlier)


def action_key(el):
    op = el.get("operation")
    interval = el.find("attributes").get("CRM_meta_interval", "0") if el.find("attributes") is not None else "0"
    if interval != "0":
        op = f"{op}_{interval}"  # a recurring monitor, not the probe
    node = el.get("on_node", "")
    prim = el.find("primitive")
    rsc = prim.get("id") if prim is not None else el.get("operation_key", "").rsplit("_", 2)[0]
    return f"{op}:{base(rsc)}:{node}"


def orders(graph):
    """Every (later, earlier) pair of real actions, through pseudo-actions too."""
    inputs = {}  # action id -> ids it waits for
    key = {}  # action id -> "op:rsc:node" for real actions (not pseudo-actions)
    for syn in graph.iter("synapse"):
        for act in syn.find("action_set"):
            if act.tag != "pseudo_event":
                key[act.get("id")] = action_key(act)
            waits = inputs.setdefault(act.get("id"), set())
            for trig in syn.iter("trigger"):
                for t in trig:
                    waits.add(t.get("id"))
    for start, later in key.items():
        seen, todo = set(), [start]
        while todo:
            for dep in inputs.get(todo.pop(), ()):
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        for earlier in sorted({key[d] for d in seen if d in key}):
            yield later, earlier


def main(argv):
    if len(argv) == 4 and argv[1] == "facts":
        facts(argv[2], argv[3])
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
