// Every entry point (workerd, Node, Deno, bundlers) is initialized on import and exports the
// same functions and types.
export * from "./mailstate.js";

import type { ProviderName, WebhookOptions, WebhookRequest, WebhookResult } from "./mailstate.js";

/**
 * Verify, normalize and route one webhook request, and say which HTTP status to answer with
 * (op `webhook`). Public-key signatures (SendGrid's ECDSA, Postal's and SNS's RSA) are
 * checked with the runtime's WebCrypto when it has one, else in wasm; the result is the same
 * as `handleWebhookSync`'s either way.
 *
 * Rejects with a `MailstateError` only for the caller's own mistakes (a malformed policy, no
 * `verify` option, a body that is not bytes or text); a bad request is a result with a 4xx
 * status.
 */
export declare function handleWebhook(
  provider: ProviderName | string,
  request: WebhookRequest,
  options: WebhookOptions,
): Promise<WebhookResult>;
