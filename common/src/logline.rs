//! Splitting log-line prefixes (syslog, maillog_file, ISO, RFC 5424, CRI) from the message.
