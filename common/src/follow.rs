//! Log following: files across rotation, FIFOs, stdin and syslog reception.
