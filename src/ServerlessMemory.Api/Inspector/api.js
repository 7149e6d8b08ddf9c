// The API beside the page: /api/inspector/ -> /api/. The key lives in this tab's sessionStorage and
// travels only in the x-functions-key header, never in an address (addresses end up in logs and history).
const storageKey = 'serverless-memory.key';
const base = new URL('../', window.location.href);

export const key = {
  get: () => window.sessionStorage.getItem(storageKey) ?? '',
  set: value => window.sessionStorage.setItem(storageKey, value),
  clear: () => window.sessionStorage.removeItem(storageKey),
};

export class ApiError extends Error {
  constructor(status, title, detail, body) {
    super(detail ? `${title} ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.body = body;
  }
}

const titles = {
  401: 'A valid key is required.',
  403: 'This key may not do that.',
  404: 'Not found.',
  412: 'The memory has changed.',
  503: 'The service is unavailable; try again shortly.',
};

/** Calls the API; answers { data, headers, status }, or throws ApiError with the problem's title and detail. */
export async function call(method, path, { query, body, headers = {} } = {}) {
  const url = new URL(path, base);
  for (const [name, value] of Object.entries(query ?? {}))
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  const sent = { accept: 'application/json', ...headers };
  const k = key.get();
  if (k) sent['x-functions-key'] = k;
  if (body !== undefined) sent['content-type'] = 'application/json';
  const response = await fetch(url, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  const text = await response.text();
  let data = null;
  if (text && /json/.test(response.headers.get('content-type') ?? '')) data = JSON.parse(text);
  if (!response.ok)
    throw new ApiError(response.status, data?.title ?? titles[response.status] ?? `The request failed (${response.status}).`, data?.detail ?? '', data);
  return { data, headers: response.headers, status: response.status };
}

/** users/{userId}/... with every segment escaped. */
export const userPath = (userId, ...rest) => ['users', userId, ...rest].map(encodeURIComponent).join('/');
