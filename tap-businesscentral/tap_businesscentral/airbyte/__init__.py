"""The Airbyte source: the tap's catalog, readers and state rules, spoken in Airbyte's protocol.

Nothing here extracts: ``spec`` is generated from the tap's settings, ``discover`` translates the
tap's streams, and ``read`` runs the tap in-process with a message writer that turns its Singer
messages into Airbyte messages (:mod:`tap_businesscentral.airbyte.messages`).
"""
