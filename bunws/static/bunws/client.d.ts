// Types of bunws/static/bunws/client.js (the bunws.v1 protocol: docs/recovery.md).

export declare const SUBPROTOCOL: "bunws.v1";
export declare const RESUME_PREFIX: "bunws.resume.";

/** A message's data: a string for a text frame, an ArrayBuffer for a binary one. */
export type Data = string | ArrayBuffer;

/** Presence on a topic: key -> metas, each with its entry's `ref`. */
export type PresenceState = Record<string, Array<{ ref: string; [field: string]: unknown }>>;

export interface PresenceDiff {
  joins: PresenceState;
  leaves: PresenceState;
}

export interface MessageInfo {
  /** The topic of a published message; null for a message the server sent with ws.send(). */
  topic: string | null;
  /** Its offset in the topic; null when not recorded (or for ws.send()). */
  offset: number | null;
}

export type Status = "connecting" | "open" | "recovered" | "reconnecting" | "closed";

export interface Options {
  onopen?: (info: { recovered: boolean; session: string | null }) => void;
  onmessage?: (data: Data, info: MessageInfo) => void;
  onrecover?: (info: { replayed: number; offsets: Record<string, number> }) => void;
  ongap?: (info: { reason: "expired" | "trimmed"; topics: string[] }) => void;
  onpresence?: (topic: string, state: PresenceState) => void;
  onclose?: (info: { code: number; reason: string; willReconnect: boolean }) => void;
  /** An Error whose message names the URL and what to do. */
  onerror?: (error: Error) => void;
  /** Milliseconds before the nth reconnection try (default: Phoenix.js's steps, then 5 s). */
  reconnectAfterMs?: (tries: number) => number;
  /** Each delay is drawn from [delay * (1 - jitter), delay] (default 0.5). */
  jitter?: number;
  /** Sends kept while disconnected (default 100); beyond it send() returns false. */
  maxQueue?: number;
}

export declare class Socket {
  constructor(url: string, options?: Options);
  readonly url: string;
  readonly status: Status;
  /** The session id of the current connection (from its welcome). */
  readonly session: string | null;
  /** Whether the current connection resumed the previous session. */
  readonly recovered: boolean;
  /** The last offset received per topic. */
  readonly offsets: Record<string, number>;
  /** Send now, or queue while reconnecting; false when the queue is full or the socket closed. */
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): boolean;
  /** Who is on `topic`, kept from the server's presence_state and presence_diff messages. */
  presence(topic: string): PresenceState;
  /** Close with 1000 (by default): the session ends, no reconnection. */
  close(code?: number, reason?: string): void;
}

export declare function connect(url: string, options?: Options): Socket;
export declare function reconnectAfterMs(tries: number): number;
export declare function backoff(
  tries: number,
  options?: { reconnectAfterMs?: (tries: number) => number; jitter?: number; random?: () => number },
): number;
export declare function decode(
  message: Data,
):
  | { kind: "m"; topic: null; offset: null; data: Data }
  | { kind: "p"; topic: string; offset: number | null; data: Data }
  | { kind: "c"; control: { type: string; [field: string]: unknown } };
export declare function applyDiff(state: PresenceState, diff: PresenceDiff): PresenceState;
export declare function socketUrl(url: string, base?: string): string;
