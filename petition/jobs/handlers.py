"""Importing this module registers every area's job handlers with the runner."""

from petition.console import updates as _updates  # noqa: E402,F401  (updates.send)
from petition.bundles import jobs as _bundles  # noqa: E402,F401  (bundle.build)
from petition.letters import milestones as _milestones  # noqa: E402,F401  (milestones.send, the sweep)
from petition.signing import publication as _publication  # noqa: E402,F401  (every PUBLICATION_CHECK_SECONDS)
from petition.deliveries import services as _deliveries  # noqa: E402,F401  (deliveries.notify)
