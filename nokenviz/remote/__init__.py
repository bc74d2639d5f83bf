"""A model served on another machine (`nokenviz serve`) and the connection to it, on Ray.

Ray is an optional extra (`pip install "nokenviz[remote]"`): nothing here imports it until a
server starts or a client connects.
"""
