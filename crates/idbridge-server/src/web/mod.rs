//! Every HTML page idbridge serves, rendered from askama templates
//! (`templates/`): the operator console ([`console`], `/admin`), the setup portal
//! for tenants' IT admins ([`portal`], `/setup`), and the pages a browser meets in a
//! sign-in flow ([`flow`]: refusals and the "test connection" result). Templates
//! escape everything they are given; none marks user data `|safe`.

pub mod console;
pub mod flow;
pub mod portal;
