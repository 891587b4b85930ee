//! The menu: one table, in the order shown. A new page adds one line here (its label key
//! in [`crate::pages::i18n`], the lowest role that may open it); the template draws the
//! table and marks the current page.

use crate::db::users::Role;
use minijinja::{context, Value};

/// One menu entry.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// Where it leads.
    pub href: &'static str,
    /// The `page` name of the target (the entry is marked current on it).
    pub page: &'static str,
    /// The translation key of the label.
    pub label: &'static str,
    /// The lowest role that sees the entry (the page itself checks again).
    pub role: Role,
    /// Which group: the everyday menu or the administration menu.
    pub group: Group,
    /// A CSS class for entries that stand out (the urgent notice).
    pub class: &'static str,
}

/// Menu groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Everyday work.
    Main,
    /// Administrators only.
    Admin,
}

const fn item(href: &'static str, page: &'static str, label: &'static str, role: Role) -> Item {
    Item {
        href,
        page,
        label,
        role,
        group: Group::Main,
        class: "",
    }
}

const fn admin(href: &'static str, page: &'static str, label: &'static str) -> Item {
    Item {
        href,
        page,
        label,
        role: Role::Admin,
        group: Group::Admin,
        class: "",
    }
}

/// Every entry.
pub const MENU: &[Item] = &[
    item("/", "dashboard", "nav_dashboard", Role::Viewer),
    item("/media", "media", "nav_media", Role::Viewer),
    item("/schedules", "schedules", "nav_schedules", Role::Viewer),
    item("/programmes", "programmes", "nav_programmes", Role::Viewer),
    item("/approvals", "approvals", "nav_approvals", Role::Viewer),
    Item {
        class: "nav-urgent",
        ..item("/urgent", "urgent", "nav_urgent", Role::Operator)
    },
    item("/live", "live", "nav_live", Role::Operator),
    item("/cap", "cap", "nav_cap", Role::Viewer),
    item("/logs", "logs", "nav_logs", Role::Viewer),
    item("/reports", "reports", "nav_reports", Role::Viewer),
    admin("/admin/areas", "areas", "nav_areas"),
    admin("/admin/stations", "stations", "nav_stations"),
    admin("/admin/users", "users", "nav_users"),
    admin("/admin/channels", "channels", "nav_channels"),
    admin("/admin/audit", "audit", "nav_audit"),
];

/// The entries `role` sees in `group`, for the template.
pub fn entries(role: Role, group: Group) -> Value {
    MENU.iter()
        .filter(|i| i.group == group && role >= i.role)
        .map(|i| context! { href => i.href, page => i.page, label => i.label, class => i.class })
        .collect::<Vec<_>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_see_the_administration_menu() {
        assert_eq!(entries(Role::Admin, Group::Admin).len(), Some(5));
        assert_eq!(entries(Role::Operator, Group::Admin).len(), Some(0));
        assert_eq!(entries(Role::Viewer, Group::Main).len(), Some(8));
        assert_eq!(entries(Role::Operator, Group::Main).len(), Some(10));
    }

    #[test]
    fn every_label_is_translated() {
        for i in MENU {
            assert_ne!(crate::pages::i18n::Lang::En.t(i.label), "?", "{}", i.label);
        }
    }
}
