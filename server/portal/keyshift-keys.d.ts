// Types for <keyshift-keys>, the keyshift self-service portal element (@keyshift/portal-element).

/** What `keyshift-ready` carries: the session, without its CSRF token. */
export interface KeyshiftPortalSessionInfo {
  externalId: string
  scopes: string[]
  expiresAt: number
}

export interface KeyshiftKeysEventMap {
  'keyshift-ready': CustomEvent<{ session: KeyshiftPortalSessionInfo }>
  'keyshift-key-created': CustomEvent<{ keyId: string }>
  'keyshift-key-rerolled': CustomEvent<{ keyId: string; oldKeyId: string }>
  'keyshift-key-deleted': CustomEvent<{ keyId: string }>
  'keyshift-expired': CustomEvent<Record<string, never>>
}

/**
 * `<keyshift-keys session-url="https://keys.example.com/portal?code=pst_…">`: lists, creates,
 * renames, rerolls and deletes the end user's keys through the portal routes of the server that
 * minted the URL. Without `session-url` it talks to its own page's origin (the /portal page).
 */
export class KeyshiftKeys extends HTMLElement {
  static readonly observedAttributes: string[]
  addEventListener<K extends keyof KeyshiftKeysEventMap>(
    type: K,
    listener: (this: KeyshiftKeys, ev: KeyshiftKeysEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void
}

declare global {
  interface HTMLElementTagNameMap {
    'keyshift-keys': KeyshiftKeys
  }
}
