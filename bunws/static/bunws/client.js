// bunws browser client: a WebSocket that reconnects, resumes its session and gets every message
// it missed (the bunws.v1 protocol, docs/recovery.md). An ES module: no build step, no
// dependency. It only ever opens WebSockets on the URL; it never calls fetch() on it.
//
//   import * as bunws from "/static/bunws/client.js";
//   const sock = bunws.connect("/chat/lobby/", { onmessage: (data, { topic, offset }) => {} });

export const SUBPROTOCOL = "bunws.v1";
export const RESUME_PREFIX = "bunws.resume.";

/** Phoenix.js's default reconnect steps (ms) for the nth try, then 5 s. */
export function reconnectAfterMs(tries) {
  return [10, 50, 100, 150, 200, 250, 500, 1000, 2000][tries - 1] ?? 5000;
}

/** The delay before try `tries`: the step, less up to `jitter` of it (random in [0, 1)). */
export function backoff(tries, options = {}) {
  const step = (options.reconnectAfterMs ?? reconnectAfterMs)(tries);
  const jitter = options.jitter ?? 0.5;
  const random = options.random ?? Math.random;
  return Math.max(0, Math.round(step * (1 - jitter * random())));
}

const utf8 = new TextDecoder();

/**
 * One server message of the bunws.v1 protocol: {kind: "m"|"p"|"c", topic, offset, data,
 * control}. Text frames stay strings, binary frames ArrayBuffers.
 */
export function decode(message) {
  if (typeof message === "string") {
    const kind = message[0];
    if (kind === "m") return { kind, topic: null, offset: null, data: message.slice(1) };
    if (kind === "c") return { kind, control: JSON.parse(message.slice(1)) };
    const newline = message.indexOf("\n");
    if (kind === "p" && newline > 0) {
      const [topic, offset] = JSON.parse(message.slice(1, newline));
      return { kind, topic, offset, data: message.slice(newline + 1) };
    }
    throw new Error(`bunws: not a bunws.v1 message: ${message.slice(0, 40)}`);
  }
  const bytes = new Uint8Array(message);
  if (bytes[0] === 0x6d) return { kind: "m", topic: null, offset: null, data: message.slice(1) };
  const newline = bytes.indexOf(0x0a);
  if (bytes[0] === 0x70 && newline > 0) {
    const [topic, offset] = JSON.parse(utf8.decode(bytes.subarray(1, newline)));
    return { kind: "p", topic, offset, data: message.slice(newline + 1) };
  }
  throw new Error("bunws: not a bunws.v1 binary message");
}

/** Apply a presence diff to a state {key: [meta]}: leaves first, then joins, by ref. */
export function applyDiff(state, diff) {
  const next = {};
  for (const [key, metas] of Object.entries(state)) next[key] = [...metas];
  for (const [key, metas] of Object.entries(diff.leaves ?? {})) {
    const gone = new Set(metas.map((meta) => meta.ref));
    const kept = (next[key] ?? []).filter((meta) => !gone.has(meta.ref));
    if (kept.length) next[key] = kept;
    else delete next[key];
  }
  for (const [key, metas] of Object.entries(diff.joins ?? {})) {
    const refs = new Set(metas.map((meta) => meta.ref));
    next[key] = [...(next[key] ?? []).filter((meta) => !refs.has(meta.ref)), ...metas];
  }
  return next;
}

/** The ws:// or wss:// URL of `url` (a path, an http(s) URL or a ws(s) URL). */
export function socketUrl(url, base = globalThis.location?.href) {
  let parsed;
  try {
    parsed = new URL(url, base);
  } catch {
    throw new Error(
      `bunws.connect(${JSON.stringify(url)}): not a URL; pass a path such as "/chat/lobby/" ` +
        `or a full ws:// or wss:// URL.`,
    );
  }
  const schemes = { "http:": "ws:", "https:": "wss:", "ws:": "ws:", "wss:": "wss:" };
  if (!schemes[parsed.protocol]) {
    throw new Error(`bunws.connect(${JSON.stringify(url)}): a WebSocket URL is ws:// or wss://.`);
  }
  parsed.protocol = schemes[parsed.protocol];
  return parsed.href;
}

const noop = () => {};

export class Socket {
  constructor(url, options = {}) {
    this.url = socketUrl(url);
    this.options = { jitter: 0.5, maxQueue: 100, reconnectAfterMs, ...options };
    this.status = "connecting";
    this.session = null;
    this.recovered = false;
    this.offsets = {};
    this._presence = {};
    this._queue = [];
    this._tries = 0;
    this._timer = null;
    this._closed = false;
    this._plain = false;
    this._open();
  }

  _call(name, ...args) {
    const handler = this.options[name] ?? noop;
    try {
      handler(...args);
    } catch (error) {
      console.error(`bunws: the ${name} callback of ${this.url} threw`, error);
    }
  }

  _open() {
    const protocols = [SUBPROTOCOL];
    const resuming = this.session !== null && !this._plain;
    if (resuming) protocols.push(RESUME_PREFIX + this.session);
    const ws = new WebSocket(this.url, protocols);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (ws.protocol !== SUBPROTOCOL) {
        if (!this._plain) {
          console.warn(
            `bunws: ${this.url} did not select the ${SUBPROTOCOL} subprotocol: plain ` +
              `messages, no session; declare the endpoint with recovery= to resume sessions.`,
          );
        }
        this._plain = true;
        this._welcome({ session: null, recovered: false, offsets: {}, replayed: 0 });
      } else if (resuming) {
        ws.send(JSON.stringify({ type: "resume", offsets: this.offsets }));
      }
      for (const data of this._queue.splice(0)) ws.send(data);
    };
    ws.onmessage = (event) => this._receive(event.data);
    ws.onclose = (event) => this._lost(event, opened);
  }

  _receive(raw) {
    if (this._plain) {
      this._call("onmessage", raw, { topic: null, offset: null });
      return;
    }
    let message;
    try {
      message = decode(raw);
    } catch (error) {
      this._call("onerror", error);
      return;
    }
    if (message.kind === "c") {
      this._control(message.control);
      return;
    }
    const { topic, offset } = message;
    if (topic !== null && offset !== null) {
      if (offset <= (this.offsets[topic] ?? -1)) return; // already had it
      this.offsets[topic] = offset;
    }
    this._call("onmessage", message.data, { topic, offset });
  }

  _control(control) {
    const { topic } = control;
    switch (control.type) {
      case "welcome":
        this._welcome(control);
        break;
      case "gap":
        if (control.reason === "expired") {
          this.offsets = {};
          this._presence = {};
        }
        this._call("ongap", { reason: control.reason, topics: control.topics });
        break;
      case "sub":
        if (!(topic in this.offsets)) this.offsets[topic] = control.offset;
        break;
      case "unsub":
        delete this.offsets[topic];
        delete this._presence[topic];
        break;
      case "presence_state":
        this._presence[topic] = control.state;
        this._call("onpresence", topic, this.presence(topic));
        break;
      case "presence_diff":
        this._presence[topic] = applyDiff(this._presence[topic] ?? {}, control.diff);
        this._call("onpresence", topic, this.presence(topic));
        break;
      default: // unknown controls are ignored (forward compatibility)
    }
  }

  _welcome(welcome) {
    this._tries = 0;
    this.session = welcome.session;
    this.recovered = Boolean(welcome.recovered);
    for (const [topic, offset] of Object.entries(welcome.offsets ?? {})) {
      this.offsets[topic] = Math.max(offset, this.offsets[topic] ?? offset);
    }
    this.status = this.recovered ? "recovered" : "open";
    if (this.recovered) {
      this._call("onrecover", { replayed: welcome.replayed, offsets: { ...this.offsets } });
    }
    this._call("onopen", { recovered: this.recovered, session: this.session });
  }

  _lost(event, opened) {
    const { code, reason } = event;
    if (this._closed) {
      this.status = "closed";
      this._call("onclose", { code, reason, willReconnect: false });
      return;
    }
    if (code === 4403 || code === 4400) {
      this.session = null; // refused: a new session (fetch decides)
      this.offsets = {};
      this._presence = {};
      this._call(
        "onerror",
        new Error(`bunws: ${this.url} refused the session (${code}: ${reason}); connecting anew.`),
      );
    } else if (code === 1000) {
      this.status = "closed";
      this._call("onclose", { code, reason, willReconnect: false });
      return;
    }
    this._tries += 1;
    const delay = backoff(this._tries, this.options);
    if (!opened) {
      this._call(
        "onerror",
        new Error(
          `bunws: could not open a WebSocket to ${this.url} (try ${this._tries}); retrying in ` +
            `${delay} ms. Check that daphne serves this path: ` +
            `python manage.py bunws_probe ${this.url}`,
        ),
      );
    }
    this.status = "reconnecting";
    this._call("onclose", { code, reason, willReconnect: true });
    this._timer = setTimeout(() => this._open(), delay);
  }

  /** Send now, or queue while reconnecting; false when the queue is full or closed. */
  send(data) {
    if (this._closed) return false;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(data);
      return true;
    }
    if (this._queue.length >= this.options.maxQueue) return false;
    this._queue.push(data);
    return true;
  }

  /** Who is on `topic`: {key: [meta, ...]}, kept from the server's state and diffs. */
  presence(topic) {
    const state = this._presence[topic] ?? {};
    return Object.fromEntries(Object.entries(state).map(([key, metas]) => [key, [...metas]]));
  }

  /** Close with 1000: the session ends, no reconnection. */
  close(code = 1000, reason = "") {
    this._closed = true;
    clearTimeout(this._timer);
    this._queue = [];
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(code, reason);
    else this.status = "closed";
  }
}

/** Connect to a bunws endpoint (a path such as "/chat/lobby/" or a ws(s):// URL). */
export function connect(url, options = {}) {
  return new Socket(url, options);
}
