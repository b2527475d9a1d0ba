"""Finding run files: what a file, ``FILE:RUN``, a directory or a glob names.

:class:`replay.Runs` (and through it every reader-side command) takes any
of them; this module turns one into the list of ``(path, run name or None,
named explicitly)`` to read, without opening a file. Directories are
searched recursively by default (a sweep puts each trial in a folder of its
own), for files ending in :data:`RUN_FILE_SUFFIXES`, in natural order
(``trial_2`` before ``trial_10``). A file named explicitly that cannot be
read raises; a file found in a directory or by a glob is left out with a
warning instead (the collection decides).
"""

import glob
import os
import re

from replay.errors import OptionError, RunFileError

#: The endings of the files a directory or a glob contributes.
RUN_FILE_SUFFIXES = (".h5", ".hdf5")


def find_run_files(text, *, recursive=True):
    """Return ``[(path, run or None, explicit)]`` of one source, in order.

    Args:
        text: a run file, ``"file.h5:run"``, a directory or a glob (``**``
            allowed).
        recursive: search directories (also those a glob matches) recursively.

    Raises:
        OptionError: a directory or glob holds or matches no run file.
        RunFileError: nothing exists at ``text`` and it is no glob.
    """
    if os.path.isfile(text):
        return [(text, None, True)]
    if os.path.isdir(text):
        files = run_files_in(text, recursive)
        if not files:
            raise OptionError(
                f"The directory '{text}' holds no run files (files ending in "
                f"{' or '.join(RUN_FILE_SUFFIXES)}{'' if recursive else ' at its top level'}).")
        return [(path, None, False) for path in files]
    file, colon, name = text.rpartition(":")
    if colon and file and name and os.path.isfile(file):
        return [(file, name, True)]
    if os.path.exists(text):  # a pipe or a device: reading it says what is wrong
        return [(text, None, True)]
    if glob.has_magic(text):
        matches = sorted(glob.glob(text, recursive=True), key=natural_key)
        files = []
        for match in matches:
            if os.path.isdir(match):
                files += run_files_in(match, recursive)
            elif match.lower().endswith(RUN_FILE_SUFFIXES):
                files.append(match)
        if not files:
            found = (f" (it matches {len(matches)} paths, none of them a run file or a "
                     "directory holding one)" if matches else "")
            raise OptionError(f"The pattern {text!r} matches no run file{found}.")
        return [(path, None, False) for path in files]
    raise RunFileError(
        f"No such run file or directory: '{text}'. Give a run file, FILE:RUN, a "
        "directory of run files or a glob such as 'sweep/*.h5'.")


def natural_key(path):
    """Sort ``trial_2`` before ``trial_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def run_files_in(folder, recursive=True):
    """The run files under ``folder`` (recursively or not), in natural order."""
    found = []
    if recursive:
        for root, folders, files in os.walk(folder):
            folders.sort()
            found += [os.path.join(root, name) for name in files
                      if name.lower().endswith(RUN_FILE_SUFFIXES)]
    else:
        found = [entry.path for entry in os.scandir(folder)
                 if entry.is_file() and entry.name.lower().endswith(RUN_FILE_SUFFIXES)]
    return sorted(found, key=natural_key)
