"""Test kits that sit beside the harness: peers that break the protocol on purpose."""
