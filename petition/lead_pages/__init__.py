"""What every lead page shares, whichever area serves it (console, bundles, deliveries,
paper, the privacy desk): the login gate, who may see which letter, the line that
confirms an action, and the confirmation step of an irreversible one.

It sits below those areas and imports only the core and letters, so they can all use it
without importing each other's pages. It has no pages of its own."""
