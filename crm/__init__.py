"""CRM operations: staff, contacts, deals, tasks, automation, leads, call-backs; the call writer."""
