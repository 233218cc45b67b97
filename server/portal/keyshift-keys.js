// Placeholder: the portal-web branch provides the <keyshift-keys> element.
customElements.define("keyshift-keys", class extends HTMLElement {});
