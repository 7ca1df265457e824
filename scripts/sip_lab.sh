#!/bin/sh
# The local SIP peer of `make run` (Procfile "siplab"): SIPp's built-in UAS answers every
# call and echoes its audio back. seed_demo points the demo trunk "Local SIP lab" at it,
# so a call from the lab's number is a real SIP/RTP call on this machine.
port="${SIP_LAB_PORT:-5090}"
if ! command -v sipp >/dev/null 2>&1; then
  echo "siplab: sipp is missing (Debian sip-tester; 'make sysdeps' installs it): the Local SIP lab trunk has no peer, its calls fail with 408."
  exec sleep infinity
fi
echo "siplab: SIPp answering on 127.0.0.1:$port and echoing RTP (trunk 'Local SIP lab')"
# SIPp redraws its status screen on stdout; errors go to its own log in the var dir.
cd "${CALLAUTO_VAR_DIR:-var}" || exit 1
exec sipp -sn uas -i 127.0.0.1 -p "$port" -mp "$((port + 10))" -rtp_echo -nostdin \
  -trace_err -error_file siplab_errors.log >/dev/null
