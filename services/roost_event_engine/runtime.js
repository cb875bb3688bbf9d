// The engine's side of every VM: the device mirror, the `home` object and the three
// processing steps. Evaluated once per worker before any user script. Internal functions are
// named rt_* so that error locations can skip them and point at the user's own line.
(function () {
  "use strict";
  var G = globalThis;
  var ERROR = {}; // a function threw: recorded, the run goes on
  var MISSING = {}; // the script has no such function
  var devices = {}; // ref -> {ref, node, id, name, props: {p: spec}, online, rings: {p: [[seq, ts, value], ...]}, size}
  var groups = {}; // name -> {name, parent, members: [ref or device id]}
  var scripts = {}; // path -> {lookup: name -> function | undefined, cache: {}}
  var plugins = []; // [{name, callback}]
  var maxActions = 1000;
  var ctx = null;

  // --- the mirror ------------------------------------------------------------------
  // Keyed by names a peer chose (a state may well hold "__proto__"): no prototype, so
  // every name is an own entry and none reaches Object.prototype.
  function rt_map() {
    return Object.create(null);
  }

  function rt_device(msg) {
    var d = devices[msg.ref];
    if (!d) {
      d = devices[msg.ref] = { ref: msg.ref, node: msg.node, id: msg.id, rings: rt_map(), online: null };
    }
    d.name = msg.name;
    d.props = msg.props || {};
    d.size = msg.history || 20;
    if (msg.online !== undefined) d.online = msg.online;
    if (msg.history_rings) {
      for (var p in msg.history_rings) d.rings[p] = msg.history_rings[p].slice(-d.size);
    }
  }

  function rt_state(msg) {
    var d = devices[msg.ref];
    if (!d) {
      d = devices[msg.ref] = {
        ref: msg.ref, node: msg.node, id: msg.id, name: null, props: {}, online: null, rings: rt_map(), size: 20,
      };
    }
    for (var p in msg.values) {
      var ring = d.rings[p] || (d.rings[p] = []);
      ring.push([msg.seq, msg.ts, msg.values[p]]);
      while (ring.length > d.size) ring.shift();
    }
  }

  G.__roost_apply = function rt_apply(messages) {
    for (var i = 0; i < messages.length; i++) {
      var m = messages[i];
      if (m.op === "state") rt_state(m);
      else if (m.op === "device") rt_device(m);
      else if (m.op === "online") { if (devices[m.ref]) devices[m.ref].online = m.online; }
      else if (m.op === "remove") delete devices[m.ref];
      else if (m.op === "groups") groups = m.groups;
      else if (m.op === "init") { plugins = m.plugins; maxActions = m.max_actions; rt_plugins(); }
    }
    return messages.length;
  };

  function rt_value_at(ring, seq) {
    if (!ring || !ring.length) return null;
    for (var i = ring.length - 1; i >= 0; i--) {
      if (ring[i][0] <= seq) return ring[i][2];
    }
    return ring[0][2]; // older than what the ring remembers: the closest we know
  }

  function rt_latest(ring) {
    return ring && ring.length ? ring[ring.length - 1][2] : null;
  }

  function rt_resolve(ref) {
    if (typeof ref !== "string") throw new TypeError("a device is named by a string, got " + typeof ref);
    if (devices[ref]) return devices[ref];
    if (ref.indexOf("/") < 0) {
      var found = [];
      for (var r in devices) if (devices[r].id === ref) found.push(devices[r]);
      if (found.length === 1) return found[0];
      if (found.length > 1) {
        throw new Error("device id " + ref + " is ambiguous: " + found.map(function (d) { return d.ref; }).join(", "));
      }
    }
    throw new Error("no device " + ref);
  }

  var RESERVED = { ref: 1, node: 1, id: 1, name: 1, online: 1, values: 1, kinds: 1, latest: 1, history: 1 };

  function rt_view(d) {
    var seq = ctx ? ctx.seq : Infinity;
    var values = {};
    var kinds = {};
    var p;
    for (p in d.props) { kinds[p] = d.props[p].kind; values[p] = null; }
    for (p in d.rings) values[p] = rt_value_at(d.rings[p], seq);
    var view = {
      ref: d.ref, node: d.node, id: d.id, name: d.name, online: d.online, values: values, kinds: kinds,
      latest: function rt_view_latest(prop) { return rt_latest(d.rings[prop]); },
      history: function rt_view_history(prop) {
        return (d.rings[prop] || []).map(function (e) { return { ts: e[1], value: e[2] }; });
      },
    };
    for (p in values) if (!RESERVED[p]) view[p] = values[p];
    return view;
  }

  function rt_group_view(name) {
    var g = groups[name];
    if (!g) throw new Error("no group " + name);
    return {
      name: name, title: g.name || name, parent: g.parent || null, members: g.members.slice(),
      devices: function rt_group_devices() {
        var out = [];
        g.members.forEach(function (m) {
          for (var r in devices) {
            if (r === m || devices[r].id === m) out.push(rt_view(devices[r]));
          }
        });
        return out;
      },
    };
  }

  // --- the home object ---------------------------------------------------------------
  function rt_need_run(what) {
    if (!ctx || ctx.loading) {
      throw new Error("home." + what + " cannot be used while a script loads; call it from onstart()");
    }
  }

  function rt_push(action) {
    if (ctx.actions.length >= maxActions) {
      throw new Error("a run may send at most " + maxActions + " actions");
    }
    action.source = ctx.current;
    ctx.actions.push(action);
  }

  function rt_text(args) {
    return Array.prototype.map.call(args, function (a) {
      if (typeof a === "string") return a;
      try { return JSON.stringify(a); } catch (e) { return String(a); }
    }).join(" ");
  }

  function rt_has_function(script, name) {
    var s = scripts[script];
    return !!(s && rt_lookup(s, name));
  }

  var home = {
    device: function rt_home_device(ref) { return rt_view(rt_resolve(ref)); },
    group: function rt_home_group(name) { return rt_group_view(name); },
    set: function rt_home_set(ref, values) {
      rt_need_run("set");
      var d = rt_resolve(ref);
      if (values === null || typeof values !== "object" || Array.isArray(values)) {
        throw new TypeError("home.set(device, {prop: value}) wants an object of properties");
      }
      rt_push({ type: "set", device: d.ref, values: JSON.parse(JSON.stringify(values)) });
    },
    emit: function rt_home_emit(kind, data) {
      rt_need_run("emit");
      if (typeof kind !== "string" || !kind) throw new TypeError("home.emit(kind, data) wants a kind string");
      rt_push({ type: "emit", kind: kind, data: data === undefined ? {} : JSON.parse(JSON.stringify(data)) });
    },
    log: function rt_home_log() {
      var line = { script: ctx ? ctx.script : null, source: ctx ? ctx.current : null, message: rt_text(arguments) };
      if (ctx) ctx.logs.push(line);
    },
    after: function rt_home_after(seconds, name, args) {
      rt_need_run("after");
      if (typeof seconds !== "number" || !(seconds >= 0) || !isFinite(seconds)) {
        throw new TypeError("home.after(seconds, name, args): seconds must be a number >= 0");
      }
      if (typeof name !== "string" || !rt_has_function(ctx.script, name)) {
        throw new Error("home.after: " + ctx.script + " has no function " + name);
      }
      rt_push({ type: "after", script: ctx.script, seconds: seconds, name: name,
        args: args === undefined ? null : JSON.parse(JSON.stringify(args)) });
    },
    cancel: function rt_home_cancel(name) {
      rt_need_run("cancel");
      rt_push({ type: "cancel", script: ctx.script, name: String(name) });
    },
    plugins: {},
  };
  Object.defineProperty(home, "devices", {
    enumerable: true,
    get: function rt_home_devices() {
      var out = {};
      for (var r in devices) out[r] = rt_view(devices[r]);
      return out;
    },
  });
  Object.defineProperty(home, "groups", {
    enumerable: true,
    get: function rt_home_groups() {
      var out = {};
      for (var n in groups) out[n] = rt_group_view(n);
      return out;
    },
  });

  function rt_plugins() {
    home.plugins = {};
    plugins.forEach(function (p) {
      var stub = function rt_plugin() {
        rt_need_run(p.name);
        var args = Array.prototype.slice.call(arguments);
        if (p.callback !== null && p.callback !== undefined && args[p.callback] !== undefined &&
            args[p.callback] !== null && !rt_has_function(ctx.script, args[p.callback])) {
          throw new Error("home." + p.name + ": " + ctx.script + " has no function " + args[p.callback]);
        }
        rt_push({ type: "plugin", plugin: p.name, script: ctx.script,
          args: JSON.parse(JSON.stringify(args, function (k, v) { return v === undefined ? null : v; })) });
      };
      home.plugins[p.name] = stub;
      if (!Object.prototype.hasOwnProperty.call(home, p.name)) home[p.name] = stub;
    });
  }

  var console = {
    log: home.log, info: home.log, warn: home.log, error: home.log,
  };

  // --- scripts -------------------------------------------------------------------------
  G.__roost_define = function rt_define(path, factory) {
    var previous = ctx;
    ctx = { loading: true, script: path, current: path, logs: [], actions: [], seq: Infinity };
    try {
      var lookup = factory(home, console);
      if (typeof lookup !== "function") throw new Error("a script must not return at its top level");
      scripts[path] = { lookup: lookup, cache: {} };
      return { logs: ctx.logs };
    } finally {
      ctx = previous;
    }
  };

  G.__roost_unload = function rt_unload(path) {
    delete scripts[path];
    return true;
  };

  function rt_lookup(script, name) {
    if (!Object.prototype.hasOwnProperty.call(script.cache, name)) {
      script.cache[name] = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? script.lookup(name) : undefined;
    }
    return script.cache[name];
  }

  function rt_where(e) {
    var stack = (e && e.stack) || "";
    var lines = stack.split("\n");
    for (var i = 0; i < lines.length; i++) {
      var m = /at ([^ ]+) \(<dukpy>:(\d+)/.exec(lines[i]);
      if (m && m[1].indexOf("rt_") !== 0) return " (line " + m[2] + ", in " + m[1] + ")";
    }
    return "";
  }

  function rt_message(e) {
    if (e instanceof Error) return e.name + ": " + e.message + rt_where(e);
    return "threw " + rt_text([e]);
  }

  function rt_call(path, name, ev) {
    var script = scripts[path];
    var fn = script ? rt_lookup(script, name) : undefined;
    if (!fn) return MISSING;
    var outer = { script: ctx.script, current: ctx.current };
    ctx.script = path;
    ctx.current = path + ":" + name;
    ctx.functions.push(ctx.current);
    try {
      return fn.call(null, ev);
    } catch (e) {
      ctx.errors.push({ script: path, function: name, message: rt_message(e) });
      return ERROR;
    } finally {
      ctx.script = outer.script;
      ctx.current = outer.current;
    }
  }

  // --- a run -----------------------------------------------------------------------------
  function rt_base_ev(job) {
    var ev = { trigger: job.trigger, ts: job.ts };
    if (job.device) {
      var parts = job.device.split("/");
      ev.device = job.device;
      ev.node = parts[0];
      ev.id = parts[1];
      ev.virtual = !!job.virtual;
    }
    return ev;
  }

  function rt_prop_ev(job, prop, change, changes) {
    var ev = rt_base_ev(job);
    ev.prop = prop;
    ev.value = change.value;
    ev.previous = change.previous;
    ev.changes = changes;
    return ev;
  }

  function rt_copy_changes(live) {
    var out = {};
    for (var p in live) out[p] = { value: live[p].value, previous: live[p].previous };
    return out;
  }

  function rt_steps(job, result) {
    var props = Object.keys(job.changes);
    var dev = devices[job.device];
    var live = {};
    var order = [];
    // Step 1: validate each changed property and run its <prop>_ontrigger.
    props.forEach(function (prop) {
      var change = { value: job.changes[prop].value, previous: job.changes[prop].previous };
      if (dev && Object.keys(dev.props).length && !dev.props[prop]) {
        // Not in the device's meta: skipped (a sloppy publisher is not a script error).
        if (job.virtual) result.vetoed[prop] = "validation: " + job.device + " has no property " + prop;
        return;
      }
      var ev = rt_prop_ev(job, prop, change, rt_copy_changes(job.changes));
      for (var i = 0; i < job.scripts.length; i++) {
        var r = rt_call(job.scripts[i], prop + "_ontrigger", ev);
        if (r === false || (r === ERROR && job.virtual)) {
          result.vetoed[prop] = job.scripts[i] + ":" + prop + "_ontrigger";
          return;
        }
      }
      change.value = ev.value;
      live[prop] = change;
      order.push(prop);
    });
    if (!order.length) return;
    // Step 2: every group of the device and, up the tree, their parents; false stops.
    for (var g = 0; g < job.groups.length; g++) {
      var group = job.groups[g];
      if (!group.script) continue;
      var gev = rt_prop_ev(job, order[0], live[order[0]], rt_copy_changes(live));
      gev.group = group.name;
      if (rt_call(group.script, "onchange", gev) === false) {
        result.stopped = group.script + ":onchange";
        return;
      }
    }
    // Step 3: each property's <prop>_onchange.
    order.forEach(function (prop) {
      var ev = rt_prop_ev(job, prop, live[prop], rt_copy_changes(live));
      for (var i = 0; i < job.scripts.length; i++) rt_call(job.scripts[i], prop + "_onchange", ev);
      result.accepted[prop] = live[prop].value;
    });
  }

  function rt_event(job, result) {
    var ev = rt_base_ev(job);
    ev.event = job.event;
    ev.type = job.event.event_type;
    ev.data = job.event.data || {};
    var chain = [];
    job.scripts.forEach(function (s) { chain.push([s, null]); });
    job.groups.forEach(function (g) { if (g.script) chain.push([g.script, g.name]); });
    (job.home || []).forEach(function (s) { chain.push([s, null]); });
    for (var i = 0; i < chain.length; i++) {
      ev.group = chain[i][1] || undefined;
      if (rt_call(chain[i][0], "onevent", ev) === false) {
        result.stopped = chain[i][0] + ":onevent";
        return;
      }
    }
  }

  function rt_named(job, result) {
    var ev = rt_base_ev(job);
    ev.name = job.function;
    ev.args = job.args === undefined ? null : job.args;
    if (job.response !== undefined) ev.response = job.response;
    if (job.error !== undefined) ev.error = job.error;
    if (rt_call(job.script, job.function, ev) === MISSING && !job.optional) {
      result.errors.push({ script: job.script, function: job.function,
        message: job.script + " has no function " + job.function });
    }
  }

  G.__roost_run = function rt_run(job) {
    ctx = { seq: job.seq, script: null, current: null, actions: [], logs: [], errors: [], functions: [] };
    var result = { accepted: {}, vetoed: {}, stopped: null, errors: ctx.errors };
    try {
      if (job.kind === "change" || job.kind === "set") rt_steps(job, result);
      else if (job.kind === "event") rt_event(job, result);
      else if (job.kind === "call") rt_named(job, result);
      else throw new Error("unknown job kind " + job.kind);
      result.functions = ctx.functions;
      result.actions = ctx.actions;
      result.logs = ctx.logs;
      return result;
    } finally {
      ctx = null;
    }
  };

  // Which function was running when the worker's alarm interrupted the run.
  G.__roost_current = function rt_current() {
    return ctx ? ctx.current : null;
  };
})();
