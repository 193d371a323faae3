"""The only module that opens audio files, and the one place that cuts audio into clips.

Everything whalelab reads arrives as float32 mono (or one chosen channel) at the
configured sample rate, whatever the file holds: WAV, FLAC, AIFF, OGG (Vorbis or Opus)
or MP3; 8, 16, 24-bit or float; any sample rate; mono or multi-channel; on disk or at an
fsspec URL (``s3://``, ``gs://``, ``https://``: :mod:`whalelab.audio.remote`, read in
ranges). Problems with a file raise :class:`whalelab.errors.AudioError` naming the
file. A file is never read shorter than it says it is: a WAV or AIFF whose header
promises fewer samples than follow it (an unfinalised header) or more (a truncated
file), an OGG whose last page promises more than can be decoded, and any file whose
decoder stops short of its header's length are refused, naming both lengths.

Which files a run reads is one rule, :class:`AudioRule`, shared by prediction,
detection and training: too short for one STFT window, a sample rate too low for the
run's band (refused at or below ``fmin``, warned of or refused below ``fmax``), a
channel the file lacks; and a file of more than two channels mixed into one is warned of
(mixing hydrophones is rarely what is meant).

A signal becomes clips of a fixed length in one of two ways, each with one rule for
audio that is too short:

- :func:`tile`: one clip from a waveform, cropped when it is longer, repeated end to end
  when it is shorter (training's and evaluation's clips);
- :class:`Windows`: overlapping windows of a signal read as a stream of blocks
  (prediction, detection, the band-energy baseline). A signal shorter than a window is
  tiled into one window, one copy centred; a tail that the regular windows miss gets
  one final window ending at the signal's end.

Short audio is never padded with digital silence: a clip of noise followed by zeros
has a log-mel picture (a hard edge, then the floor at ``top_db`` below its peak) that
no recording has, that drags a per-clip level normalisation down, and that a model
reads as a call. Repeating keeps each band's level and spread; reflecting would too,
but it plays calls backwards (an upsweep becomes a downsweep).
"""

from whalelab.audio.acceptance import MIXED_CHANNELS, AudioRule
from whalelab.audio.files import (AUDIO_SUFFIXES, BLOCK_SECONDS, UNREADABLE_SUFFIXES, AudioInfo,
                                  audio_files_under, audio_info, input_audio_files,
                                  is_audio_file, load_audio,
                                  recording_record, remote_audio_files, stream_audio,
                                  warn_of_unreadable_audio, write_audio)
from whalelab.audio.headers import SHORTFALL_FRAMES, TRAILING_BYTES
from whalelab.audio.remote import AudioSource, RemoteFile, audio_source, is_url
from whalelab.audio.windows import Window, Windows, tile

__all__ = ["AUDIO_SUFFIXES", "BLOCK_SECONDS", "MIXED_CHANNELS", "SHORTFALL_FRAMES",
           "TRAILING_BYTES", "UNREADABLE_SUFFIXES", "AudioInfo", "AudioRule", "AudioSource",
           "RemoteFile", "Window", "Windows", "audio_files_under", "audio_info", "audio_source",
           "input_audio_files", "is_audio_file", "is_url", "load_audio", "recording_record",
           "remote_audio_files", "stream_audio", "tile", "warn_of_unreadable_audio",
           "write_audio"]
