// Type-level test of @keyshift/portal-element's .d.ts (tsc --strict; @ts-expect-error fails the
// build when the line is not an error).
import { KeyshiftKeys } from '@keyshift/portal-element'

export function usage(): void {
  const el = document.createElement('keyshift-keys')
  const typed: KeyshiftKeys = el
  typed.setAttribute('session-url', 'https://keys.example.com/portal?code=pst_x')
  typed.addEventListener('keyshift-key-created', (e) => {
    const id: string = e.detail.keyId
    console.log(id)
  })
  typed.addEventListener('keyshift-ready', (e) => console.log(e.detail.session.scopes.join(',')))
  // @ts-expect-error: the created event carries no plaintext key
  typed.addEventListener('keyshift-key-created', (e) => console.log(e.detail.key))
  const found = document.querySelector('keyshift-keys')
  if (found) console.log(found instanceof KeyshiftKeys)
}
