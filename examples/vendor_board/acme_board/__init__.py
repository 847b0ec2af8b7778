"""ACME compute boards for computesat."""

from acme_board.photon7 import Photon7Board

__all__ = ["Photon7Board"]
