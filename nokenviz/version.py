"""The version, in a module of its own so that any layer can read it without importing the
package root (whose `load` and `show` reach the API and the app)."""

__version__ = "0.1.0"
