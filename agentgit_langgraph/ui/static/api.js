// Talking to the JSON API: its path and the write token come from <meta> tags the
// server fills in; every write sends the token.
import { failure } from "./model.js";

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute("content");

export const base = meta("agentgit-api") || "/agentgit";
export const canWrite = meta("agentgit-write") === "1";
const token = meta("agentgit-token") || "";

export class ApiError extends Error {
  constructor(status, body) {
    super(`${failure.kind(body)}: ${failure.detail(body)}`);
    this.status = status;
  }
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = { error: "Error", detail: `HTTP ${response.status}` };
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return answer(await fetch(`${base}${path}${text ? `?${text}` : ""}`));
}

export async function post(path, body) {
  return answer(
    await fetch(`${base}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Agentgit-Token": token },
      body: JSON.stringify(body),
    }),
  );
}
