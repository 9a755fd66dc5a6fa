"""TSM booking core: the domain (plain Python), its services and the adapters to the outside world.

The Teams transport lives in the top-level ``bot`` package, Adaptive Cards in ``cards`` and the
sweep jobs in ``scheduler``; none of them is imported from here.
"""
