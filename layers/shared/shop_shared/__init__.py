"""Code shared by every function of the shop: the Lambda layer `SharedLayer` in template.yaml.

Modules are small and import lazily what only some functions need, so a function pays at cold
start only for what it uses.
"""
