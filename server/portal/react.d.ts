// JSX typing of <keyshift-keys> for React (19+): `import type {} from '@keyshift/portal-element/react'`.
import 'react'

declare module 'react' {
  namespace JSX {
    interface IntrinsicElements {
      'keyshift-keys': React.DetailedHTMLProps<React.HTMLAttributes<HTMLElement>, HTMLElement> & {
        /** The URL your backend minted with createPortalSession / create_portal_session. */
        'session-url'?: string
      }
    }
  }
}
