//! Every string the pages show, in Vietnamese (the default) and English. The language is
//! the `lang` cookie; templates get the chosen column as `t`, scripts the same table as a
//! JSON data block.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::collections::BTreeMap;
use std::convert::Infallible;

/// The cookie holding the chosen language.
pub const LANG_COOKIE: &str = crate::cookies::LANG;

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Tiếng Việt, the default.
    #[default]
    Vi,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute and cookie value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// Read a cookie value; anything unknown is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language (for the switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// The string for `key`; the key itself when missing (a test keeps none missing).
    pub fn t(self, key: &str) -> &'static str {
        TABLE
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, vi, en)| if self == Lang::Vi { *vi } else { *en })
            .unwrap_or("?")
    }

    /// The whole column, for templates and scripts.
    pub fn table(self) -> BTreeMap<&'static str, &'static str> {
        TABLE
            .iter()
            .map(|(k, vi, en)| (*k, if self == Lang::Vi { *vi } else { *en }))
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(crate::cookies::get(parts, LANG_COOKIE)
            .and_then(|v| Lang::parse(&v))
            .unwrap_or_default())
    }
}

/// (key, Vietnamese, English).
pub const TABLE: &[(&str, &str, &str)] = &[
    ("app_name", "Loa Xã", "Loa Xã"),
    // Live broadcast (#25).
    ("nav_live", "Phát trực tiếp", "Live"),
    ("live_title", "Phát trực tiếp", "Live broadcast"),
    (
        "live_warn",
        "Giọng nói của bạn phát ra loa các đài đã chọn sau khoảng 0,2 giây. Mức «khẩn cấp» ngắt ngay chương trình đang phát.",
        "Your voice comes out of the chosen stations' loudspeakers about 0.2 s later. The emergency level interrupts whatever plays.",
    ),
    ("live_default_title", "Phát trực tiếp", "Live broadcast"),
    ("live_level", "Mức ưu tiên", "Level"),
    (
        "live_priority",
        "Ưu tiên: phát trước hàng đợi, không ngắt chương trình đang phát",
        "Priority: ahead of the queue, cuts nothing",
    ),
    (
        "live_emergency",
        "Khẩn cấp: ngắt ngay chương trình đang phát",
        "Emergency: interrupts whatever plays",
    ),
    (
        "live_clean",
        "Khử tiếng vọng và lọc tiếng ồn (tắt khi dùng micrô phòng thu)",
        "Echo cancellation and noise suppression (off for a studio microphone)",
    ),
    ("live_start", "● Bắt đầu phát", "● Start speaking"),
    ("live_stop", "■ Dừng phát", "■ Stop"),
    ("live_meter", "Mức âm vào", "Input level"),
    ("live_stations", "Các đài", "Stations"),
    ("live_recent", "Các lần phát gần đây", "Recent sessions"),
    ("live_starting", "Đang kết nối…", "Connecting…"),
    ("live_on_air", "Đang phát trực tiếp", "On the air"),
    ("live_ended", "Đã dừng", "Ended"),
    ("live_no_mic", "Không mở được micrô: ", "Cannot open the microphone: "),
    ("live_no_targets", "Chọn ít nhất một đài hoặc khu vực.", "Pick at least one station or area."),
    ("live_connecting", "đang kết nối", "connecting"),
    ("live_connected", "đã kết nối", "connected"),
    ("live_waiting", "chờ chương trình đang phát kết thúc", "waiting for what airs to end"),
    ("live_airing", "đang phát", "airing"),
    ("live_behind", "chậm {n} ms", "behind by {n} ms"),
    ("live_lost", "mất kết nối", "lost"),
    ("live_state_ended", "đã kết thúc", "ended"),
    ("live_recording", "Bản ghi", "Recording"),
    ("skip", "Bỏ qua phần điều hướng", "Skip to content"),
    ("nav", "Điều hướng chính", "Main navigation"),
    ("nav_dashboard", "Tổng quan", "Dashboard"),
    ("nav_media", "Thư viện âm thanh", "Media library"),
    ("nav_schedules", "Lịch phát", "Schedules"),
    ("nav_urgent", "Thông báo khẩn", "Urgent notice"),
    ("nav_logs", "Nhật ký phát", "Logs"),
    ("nav_reports", "Báo cáo", "Reports"),
    ("nav_password", "Đổi mật khẩu", "Change password"),
    ("logout", "Đăng xuất", "Log out"),
    ("lang_switch", "English", "Tiếng Việt"),
    ("signed_in_as", "Tài khoản", "Signed in as"),
    ("role_admin", "quản trị", "admin"),
    ("role_operator", "phát thanh viên", "operator"),
    ("role_approver", "người duyệt", "approver"),
    ("nav_programmes", "Chương trình", "Programmes"),
    ("nav_approvals", "Duyệt nội dung", "Approvals"),
    ("prog_title", "Chương trình phát thanh", "Programmes"),
    ("prog_new", "Chương trình mới", "New programme"),
    ("prog_existing", "Chương trình đã có", "Existing programmes"),
    ("prog_edit", "Sửa chương trình", "Edit programme"),
    ("prog_add_media", "Thêm tệp âm thanh", "Add a media file"),
    ("prog_add", "Thêm vào chương trình", "Add to the programme"),
    ("prog_add_jingle", "Thêm nhạc hiệu của đài", "Add the station's jingle"),
    ("prog_jingle", "Nhạc hiệu riêng của từng đài", "Each station's own jingle"),
    ("prog_parts", "Các phần", "Parts"),
    ("prog_length", "Thời lượng", "Length"),
    ("prog_total", "Tổng thời lượng: {total}", "Total length: {total}"),
    ("prog_limit", "giới hạn khung phát {limit} phút", "slot limit {limit} min"),
    ("prog_over", "Vượt giới hạn khung phát {limit} phút!", "Over the slot's {limit}-minute limit!"),
    ("prog_up", "Lên", "Up"),
    ("prog_down", "Xuống", "Down"),
    ("prog_remove", "Bỏ", "Remove"),
    ("prog_listen", "Nghe thử cả chương trình", "Listen to the whole programme"),
    ("prog_stop", "Dừng", "Stop"),
    ("prog_playing", "Đang phát phần {n}: {title}", "Playing part {n}: {title}"),
    ("prog_saved", "Đã lưu chương trình.", "Programme saved."),
    ("prog_no_parts", "Thêm ít nhất một tệp âm thanh.", "Add at least one media file."),
    ("edit", "Sửa", "Edit"),
    ("approval", "Duyệt", "Approval"),
    ("appr_draft", "chờ duyệt", "waiting for approval"),
    ("appr_approved", "đã duyệt", "approved"),
    ("appr_rejected", "bị trả lại", "rejected"),
    ("appr_review", "chờ xem lại", "waiting for review"),
    ("appr_reviewed", "đã xem lại", "reviewed"),
    ("appr_title", "Hàng chờ duyệt", "Approval queue"),
    ("appr_intro", "Nội dung do phát thanh viên tạo ở địa bàn cần duyệt chỉ được phát sau khi duyệt. Thông báo khẩn được phát ngay và xem lại sau.", "What operators make in areas that require approval airs only once approved. Urgent notices air at once and are reviewed afterwards."),
    ("appr_kind", "Loại", "Kind"),
    ("appr_area", "Địa bàn", "Area"),
    ("appr_by", "Người tạo", "Made by"),
    ("appr_submitted", "Gửi lúc", "Submitted"),
    ("appr_decision", "Quyết định", "Decision"),
    ("appr_comment", "Nhận xét", "Comment"),
    ("appr_approve", "Duyệt", "Approve"),
    ("appr_reject", "Trả lại", "Reject"),
    ("appr_review_done", "Đã xem lại", "Mark reviewed"),
    ("appr_need_comment", "Hãy ghi lý do trả lại.", "Say why it is rejected."),
    ("appr_done", "Đã ghi quyết định.", "Decision recorded."),
    ("kind_schedule", "lịch phát", "schedule"),
    ("kind_programme", "chương trình", "programme"),
    ("kind_media", "tệp âm thanh", "media"),
    ("kind_urgent", "thông báo khẩn", "urgent notice"),
    ("kind_cap", "cảnh báo CAP", "CAP alert"),
    ("nav_cap", "Cảnh báo CAP", "CAP alerts"),
    ("cap_title", "Cảnh báo CAP", "CAP alerts"),
    ("cap_headline", "Tiêu đề", "Headline"),
    ("cap_sources", "Nguồn cảnh báo", "Sources"),
    ("cap_messages", "Tin đã nhận", "Messages received"),
    ("cap_outcome", "Kết quả", "Outcome"),
    ("cap_matched", "Đài trong vùng cảnh báo", "Stations in the warned area"),
    ("cap_fetched", "Nhận lúc", "Fetched"),
    ("cap_every", "Chu kỳ (giây)", "Every (s)"),
    ("cap_last_error", "Lỗi gần nhất", "Last error"),
    ("cap_none", "Chưa nhận tin nào.", "Nothing received yet."),
    ("role_viewer", "người xem", "viewer"),
    ("login_title", "Đăng nhập", "Log in"),
    ("username", "Tên đăng nhập", "Username"),
    ("password", "Mật khẩu", "Password"),
    ("login_button", "Đăng nhập", "Log in"),
    (
        "err_login",
        "Sai tên đăng nhập hoặc mật khẩu.",
        "Wrong username or password.",
    ),
    (
        "err_throttled",
        "Đăng nhập sai quá nhiều lần; hãy thử lại sau ít phút.",
        "Too many failed attempts; try again in a few minutes.",
    ),
    ("err_required", "Không được để trống.", "Required."),
    (
        "err_csrf",
        "Biểu mẫu đã hết hạn; hãy tải lại trang rồi thử lại.",
        "The form expired; reload the page and try again.",
    ),
    ("pw_current", "Mật khẩu hiện tại", "Current password"),
    ("pw_new", "Mật khẩu mới", "New password"),
    (
        "pw_confirm",
        "Nhập lại mật khẩu mới",
        "Repeat the new password",
    ),
    ("pw_hint", "Ít nhất 8 ký tự.", "At least 8 characters."),
    ("pw_save", "Lưu mật khẩu", "Save password"),
    (
        "pw_saved",
        "Đã đổi mật khẩu. Các phiên đăng nhập khác đã bị đăng xuất.",
        "Password changed. Other sessions were signed out.",
    ),
    (
        "err_pw_wrong",
        "Mật khẩu hiện tại không đúng.",
        "The current password is wrong.",
    ),
    (
        "err_pw_short",
        "Mật khẩu mới phải có ít nhất 8 ký tự.",
        "The new password must have at least 8 characters.",
    ),
    (
        "err_pw_long",
        "Mật khẩu mới quá dài.",
        "The new password is too long.",
    ),
    (
        "err_pw_mismatch",
        "Hai lần nhập mật khẩu mới không giống nhau.",
        "The two new passwords differ.",
    ),
    ("forbidden_title", "Không có quyền", "Not allowed"),
    (
        "forbidden",
        "Bạn không có quyền xem hoặc làm việc này.",
        "You are not allowed to see or do this.",
    ),
    ("not_found", "Không tìm thấy trang này.", "No such page."),
    ("back_home", "Về trang tổng quan", "Back to the dashboard"),
    ("dash_title", "Tình trạng các đài", "Station status"),
    ("count_total", "Tổng số đài", "Stations"),
    ("count_online", "Đang kết nối", "Online"),
    ("count_offline", "Mất kết nối", "Offline"),
    ("count_playing", "Đang phát", "Playing"),
    ("count_warnings", "Cảnh báo", "Warnings"),
    ("col_station", "Đài", "Station"),
    ("col_state", "Trạng thái", "State"),
    ("col_now", "Đang phát", "Now playing"),
    ("col_last_seen", "Liên lạc lần cuối", "Last seen"),
    ("col_next", "Bản tin tiếp theo", "Next bulletin"),
    ("col_cache", "Bộ nhớ đệm", "Cache"),
    ("col_clock", "Đồng hồ", "Clock"),
    (
        "col_remote",
        "Âm lượng · lệnh từ xa",
        "Volume · remote command",
    ),
    ("volume_pct", "Âm lượng {v}%", "Volume {v}%"),
    ("cmd_stop", "Dừng phát", "Stop"),
    ("cmd_volume", "Đặt âm lượng {v}%", "Set volume {v}%"),
    ("cmd_resync", "Đồng bộ lại", "Re-sync"),
    (
        "cmd_pending",
        "đang chờ đài xác nhận",
        "waiting for the station",
    ),
    ("cmd_done", "đã thực hiện", "done"),
    ("cmd_failed", "không thực hiện được", "failed"),
    ("online", "Trực tuyến", "Online"),
    ("offline", "Ngoại tuyến", "Offline"),
    ("never", "Chưa liên lạc", "Never"),
    ("nothing", "—", "—"),
    ("cache_ready", "Sẵn sàng", "Ready"),
    ("cache_missing", "Thiếu {n} tệp", "{n} files missing"),
    ("unknown", "Chưa rõ", "Unknown"),
    ("clock_ok", "Đúng giờ", "On time"),
    ("clock_off", "Lệch {s} giây", "{s} s off"),
    ("updated_at", "Cập nhật lúc", "Updated at"),
    (
        "load_failed",
        "Không tải được dữ liệu: ",
        "Could not load: ",
    ),
    ("week_link", "Lịch tuần", "Week"),
    ("media_title", "Thư viện âm thanh", "Media library"),
    ("upload_heading", "Tải tệp lên", "Upload a file"),
    (
        "upload_file",
        "Tệp âm thanh (MP3, WAV, FLAC, OGG, M4A)",
        "Audio file (MP3, WAV, FLAC, OGG, M4A)",
    ),
    ("upload_title", "Tiêu đề", "Title"),
    ("upload_button", "Tải lên", "Upload"),
    ("upload_progress", "Tiến độ tải lên", "Upload progress"),
    ("upload_refused", "Tệp bị từ chối: ", "File refused: "),
    ("upload_done", "Đã tải lên: ", "Uploaded: "),
    ("err_pick_file", "Hãy chọn một tệp.", "Pick a file."),
    ("col_title", "Tiêu đề", "Title"),
    ("col_duration", "Thời lượng", "Duration"),
    ("col_loudness", "Độ lớn", "Loudness"),
    ("col_preview", "Nghe thử", "Preview"),
    ("col_actions", "Thao tác", "Actions"),
    ("delete", "Xoá", "Delete"),
    ("confirm_delete", "Xoá tệp này?", "Delete this file?"),
    ("no_items", "Chưa có gì.", "Nothing yet."),
    ("sched_title", "Lịch phát", "Schedules"),
    ("sched_new", "Lịch mới", "New schedule"),
    ("mode", "Cách đặt giờ", "How to set the times"),
    ("mode_weekly", "Theo ngày trong tuần", "By weekday"),
    (
        "mode_cron",
        "Biểu thức crontab (cho người thành thạo)",
        "Crontab expression (experts)",
    ),
    ("weekdays", "Các ngày", "Days"),
    (
        "times",
        "Giờ phát (vd. 05:30, 17:00)",
        "Times (e.g. 05:30, 17:00)",
    ),
    ("day_1", "Thứ Hai", "Monday"),
    ("day_2", "Thứ Ba", "Tuesday"),
    ("day_3", "Thứ Tư", "Wednesday"),
    ("day_4", "Thứ Năm", "Thursday"),
    ("day_5", "Thứ Sáu", "Friday"),
    ("day_6", "Thứ Bảy", "Saturday"),
    ("day_0", "Chủ Nhật", "Sunday"),
    (
        "cron_field",
        "Biểu thức crontab (5 trường)",
        "Crontab expression (5 fields)",
    ),
    ("media", "Tệp âm thanh", "Media"),
    ("pick_media", "— chọn tệp —", "— pick a file —"),
    ("priority", "Mức ưu tiên", "Priority"),
    ("prio_normal", "Thường", "Normal"),
    ("prio_priority", "Ưu tiên", "Priority"),
    ("prio_emergency", "Khẩn cấp", "Emergency"),
    ("category", "Chuyên mục", "Category"),
    ("starts_on", "Từ ngày", "From"),
    ("ends_on", "Đến ngày", "Until"),
    (
        "excluded",
        "Ngày không phát (cách nhau bởi dấu phẩy, YYYY-MM-DD)",
        "Excluded dates (comma-separated, YYYY-MM-DD)",
    ),
    ("targets", "Phát tới các đài", "Stations"),
    ("target_areas", "Hoặc cả khu vực", "Or whole areas"),
    (
        "all_stations",
        "Tất cả các đài trong khu vực của tôi",
        "Every station in my area",
    ),
    ("preview", "Mô tả", "In words"),
    ("next_times", "5 lần phát tới", "Next five times"),
    ("save", "Lưu", "Save"),
    ("saved", "Đã lưu.", "Saved."),
    (
        "err_no_days",
        "Chọn ít nhất một ngày.",
        "Pick at least one day.",
    ),
    (
        "err_times",
        "Giờ không hợp lệ (dạng HH:MM, cách nhau bởi dấu phẩy).",
        "Invalid time (HH:MM, comma-separated).",
    ),
    (
        "err_no_targets",
        "Chọn ít nhất một đài hoặc khu vực.",
        "Pick at least one station or area.",
    ),
    (
        "err_no_media",
        "Chọn một tệp âm thanh.",
        "Pick a media file.",
    ),
    ("existing", "Lịch đã có", "Existing schedules"),
    ("col_rule", "Quy tắc", "Rule"),
    ("week_title", "Lịch tuần của đài", "Week plan of station"),
    ("prev_week", "Tuần trước", "Previous week"),
    ("next_week", "Tuần sau", "Next week"),
    ("status_interrupted", "Sẽ bị ngắt", "Will be interrupted"),
    ("status_skipped", "Sẽ bị bỏ qua", "Will be skipped"),
    (
        "urgent_title",
        "Phát thông báo khẩn",
        "Push an urgent notice",
    ),
    (
        "urgent_warn",
        "Thông báo khẩn sẽ ngắt ngay mọi chương trình đang phát trên các đài đã chọn.",
        "An urgent notice at once interrupts whatever plays on the chosen stations.",
    ),
    (
        "urgent_text",
        "Nội dung đọc (máy đọc thành tiếng)",
        "Text to speak (text-to-speech)",
    ),
    ("urgent_send", "Phát khẩn cấp…", "Broadcast…"),
    (
        "urgent_confirm_q",
        "Xác nhận phát thông báo khẩn tới {n} đài?",
        "Broadcast the urgent notice to {n} stations?",
    ),
    ("urgent_all", "tất cả các", "all"),
    ("confirm", "Xác nhận phát", "Confirm"),
    ("cancel", "Thôi", "Cancel"),
    ("repeat", "Số lần phát", "Times to play"),
    (
        "board_title",
        "Tình trạng nhận thông báo",
        "Delivery, station by station",
    ),
    ("cancel_notice", "Huỷ thông báo", "Cancel the notice"),
    (
        "confirm_cancel_notice",
        "Huỷ thông báo khẩn này?",
        "Cancel this urgent notice?",
    ),
    ("recent_notices", "Thông báo gần đây", "Recent notices"),
    ("state_pending", "Đang chờ", "Pending"),
    ("state_received", "Đã nhận", "Received"),
    ("state_playing", "Đang phát", "Playing"),
    ("state_played", "Đã phát", "Played"),
    ("state_failed", "Lỗi", "Failed"),
    ("state_cancelled", "Đã huỷ", "Cancelled"),
    ("logs_title", "Nhật ký phát", "As-run log"),
    ("filter", "Lọc", "Filter"),
    ("from", "Từ ngày", "From"),
    ("to", "Đến ngày", "To"),
    ("status", "Kết quả", "Outcome"),
    ("any", "Tất cả", "Any"),
    ("col_scheduled", "Giờ theo lịch", "Scheduled"),
    ("col_started", "Bắt đầu", "Started"),
    ("col_played", "Đã phát (giây)", "Played (s)"),
    ("prev_page", "Trang trước", "Previous page"),
    ("next_page", "Trang sau", "Next page"),
    ("page", "Trang", "Page"),
    ("log_played", "Đã phát", "Played"),
    ("log_interrupted", "Bị ngắt", "Interrupted"),
    ("log_skipped", "Bỏ qua", "Skipped"),
    ("log_failed", "Lỗi", "Failed"),
    ("log_missed", "Bị lỡ", "Missed"),
    ("log_demo", "dữ liệu mẫu", "demo data"),
    (
        "reports_title",
        "Báo cáo thời lượng phát",
        "Airtime reports",
    ),
    ("report_csv", "Tải tệp CSV", "Download CSV"),
    (
        "report_xlsx",
        "Tải tệp Excel (XLSX)",
        "Download Excel (XLSX)",
    ),
    (
        "report_hint",
        "Mỗi dòng là một đài và một chuyên mục; mọi đài của địa bàn đều có mặt, kể cả đài không có lịch.",
        "One row per station and category; every station of the area is there, also one with nothing scheduled.",
    ),
    ("report_stations", "Theo đài", "By station"),
    ("report_col_scheduled", "Theo lịch", "Scheduled"),
    ("report_col_awaiting", "Chờ nhật ký", "Awaiting log"),
    ("report_col_aired", "Phút đã phát", "Minutes aired"),
    ("report_col_compliance", "Tỷ lệ phát đủ", "Compliance"),
    (
        "report_awaiting_title",
        "Các đài đang chờ nhật ký:",
        "Stations whose logs are awaited:",
    ),
    (
        "report_awaiting_line",
        "{station}: {n} lượt chờ nhật ký, từ {since}",
        "{station}: {n} awaiting their log since {since}",
    ),
    (
        "report_awaiting_hint",
        "Chờ nhật ký: đã đến giờ phát nhưng đài chưa gửi nhật ký. Quá thời gian chờ đối soát (2 giờ theo mặc định) mà vẫn chưa có, lượt phát được tính là bị lỡ.",
        "Awaiting log: due, but the station has not sent its log yet. Once reconciliation's grace (2 hours by default) has passed without it, the occurrence counts as missed.",
    ),
    ("chart_svg_missed", "bị lỡ", "missed"),
    ("chart_svg_awaiting", "chờ nhật ký", "awaiting log"),
    (
        "chart_svg_empty_stations",
        "Địa bàn này chưa có đài nào.",
        "There is no station in this area.",
    ),
    ("nav_admin", "Quản trị", "Administration"),
    ("nav_areas", "Địa bàn", "Areas"),
    ("nav_stations", "Đài", "Stations"),
    ("nav_users", "Người dùng", "Users"),
    ("nav_audit", "Nhật ký thao tác", "Audit log"),
    ("areas_title", "Địa bàn", "Areas"),
    ("area_add", "Thêm địa bàn", "Add an area"),
    ("area", "Địa bàn", "Area"),
    ("parent_area", "Thuộc địa bàn", "Parent area"),
    ("code", "Mã", "Code"),
    ("code_hint", "Chữ in hoa, số và dấu gạch ngang, ví dụ LQ hoặc TT-01.", "Capital letters, digits and hyphens, e.g. LQ or TT-01."),
    ("name", "Tên", "Name"),
    ("add", "Thêm", "Add"),
    ("added", "Đã thêm: ", "Added: "),
    ("stations_title", "Đài truyền thanh", "Radio stations"),
    ("station_add", "Thêm đài", "Add a station"),
    ("timezone", "Múi giờ", "Time zone"),
    ("location", "Vị trí", "Location"),
    ("device_token", "Mã thiết bị", "Device token"),
    ("token_once", "Chép mã này vào bộ điều khiển của đài ngay bây giờ: mã chỉ hiện một lần, máy chủ chỉ lưu bản băm của nó.", "Copy this token to the station's controller now: it is shown only once, the server keeps only its hash."),
    ("token_for", "Mã thiết bị mới của đài {code}", "New device token of station {code}"),
    ("token_done", "Đã chép, ẩn mã", "Copied, hide it"),
    ("token_rotate", "Đổi mã thiết bị", "Rotate token"),
    ("token_rotate_q", "Đổi mã thiết bị của đài {code}? Mã cũ hết hiệu lực ngay lập tức; bộ điều khiển của đài sẽ ngừng đồng bộ cho tới khi được cài mã mới.", "Rotate the device token of station {code}? The old token stops working at once; the station's controller stops syncing until it is given the new one."),
    ("users_title", "Người dùng", "Users"),
    ("user_add", "Thêm người dùng", "Add a user"),
    ("role", "Vai trò", "Role"),
    ("audit_title", "Nhật ký thao tác", "Audit log"),
    ("audit_when", "Thời điểm", "When"),
    ("audit_action", "Thao tác", "Action"),
    ("audit_target", "Đối tượng", "Target"),
    ("audit_detail", "Chi tiết", "Details"),
    ("audit_from", "Địa chỉ", "From address"),
    ("audit_area", "Địa bàn", "Areas"),
    ("audit_station", "Đài", "Stations"),
    ("audit_user", "Người dùng", "Users"),
    ("audit_media", "Tệp âm thanh", "Media"),
    ("audit_schedule", "Lịch phát", "Schedules"),
    ("audit_urgent", "Thông báo khẩn", "Urgent notices"),
    ("audit_cap", "Cảnh báo CAP", "CAP alerts"),
    ("audit_auth", "Đăng nhập, mật khẩu", "Sign-in, passwords"),
    ("err_to_before_from", "Ngày kết thúc phải sau ngày bắt đầu.", "The end date must be after the start date."),
    ("sound", "Âm thanh", "Sound"),
    ("sound_media", "Tệp trong thư viện", "A library file"),
    ("sound_text", "Văn bản, máy đọc", "Text, spoken by the server"),
    ("sound_cap", "Bản tin cảnh báo CAP (XML)", "A CAP alert (XML)"),
    ("chime", "Phát chuông báo trước", "Chime before it"),
    ("cap_xml", "Nội dung CAP 1.2 (dán vào)", "CAP 1.2 XML (paste)"),
    ("cap_file", "hoặc chọn tệp CAP", "or pick a CAP file"),
    ("cap_hint", "Mã vùng (geocode) là mã địa bàn hoặc mã đài của hệ thống.", "Geocodes are our area or station codes."),
    ("err_no_text", "Hãy nhập nội dung để máy đọc.", "Type the text to be spoken."),
    ("err_no_cap", "Hãy dán nội dung CAP hoặc chọn tệp.", "Paste the CAP XML or pick a file."),
    ("cap_confirm_q", "Xác nhận gửi bản tin cảnh báo CAP? Các đài trong vùng cảnh báo sẽ phát ngay.", "Send the CAP alert? The stations in its area play it at once."),
    ("cap_not_aired", "Đã ghi nhận bản tin CAP (trạng thái {s}) nhưng không phát.", "The CAP message was recorded (status {s}) but not aired."),
    ("cap_cancelled", "Bản tin CAP hủy: đã dừng {n} thông báo.", "CAP cancel: {n} notices stopped."),
    ("cap_duplicate", "Bản tin CAP này đã nhận trước đó.", "This CAP message was received before."),
    ("notice_finished", "Thông báo đã kết thúc.", "This notice is finished."),
    ("notice_expires", "Hết hạn lúc", "Expires at"),
    ("expired", "đã hết hạn", "expired"),
    ("report_area", "Địa bàn", "Area"),
    ("report_charts", "Biểu đồ", "Charts"),
    ("chart_aired", "Thời lượng đã phát theo đài", "Airtime by station"),
    ("chart_svg_aired_title", "Số phút đã phát theo đài", "Aired minutes by station"),
    ("chart_svg_aired_desc", "Số phút đã phát của từng đài; {period}.", "Minutes on air per station; {period}."),
    ("chart_svg_share_title", "Tỷ lệ thời lượng phát theo chuyên mục", "Share of aired minutes by category"),
    ("chart_svg_share_desc", "Tỷ lệ số phút đã phát của từng chuyên mục; {period}.", "Each category's share of the minutes on air; {period}."),
    ("chart_svg_compliance_title", "Tỷ lệ phát đủ theo ngày", "Compliance by day"),
    ("chart_svg_compliance_desc", "Số phút đã phát so với số phút theo lịch, theo ngày địa phương; {period}.", "Aired minutes as a percentage of scheduled minutes, per local day; {period}."),
    ("chart_svg_period", "địa bàn {area}, từ {from} đến {to}", "area {area}, {from} to {to}"),
    ("chart_svg_first", "mục nhật ký đầu tiên", "the first entry"),
    ("chart_svg_last", "mục nhật ký cuối cùng", "the last entry"),
    ("chart_svg_min", "phút", "min"),
    ("chart_svg_no_category", "(không có chuyên mục)", "(no category)"),
    ("chart_svg_empty_logs", "Không có mục nhật ký nào trong khoảng thời gian này.", "No log entries in this period."),
    ("chart_svg_empty_days", "Không có thời lượng theo lịch trong khoảng thời gian này.", "No scheduled airtime in this period."),
    ("chart_svg_incomplete", "chưa đầy đủ: các mục nhật ký trước {at} đã bị xoá theo chính sách lưu giữ", "incomplete: log entries due before {at} were deleted by the retention policy"),
    ("chart_compliance", "Tỉ lệ phát đúng lịch theo ngày", "Compliance by day"),
    ("chart_share", "Tỉ trọng theo chuyên mục", "Share by category"),
    ("area_edit", "Sửa địa bàn {code}", "Edit area {code}"),
    ("user_active", "Đang hoạt động", "Active"),
    ("user_disabled", "Đã khoá", "Disabled"),
    ("user_disable", "Khoá", "Disable"),
    ("user_enable", "Mở khoá", "Enable"),
    ("confirm_disable", "Khoá tài khoản này? Người dùng bị đăng xuất ngay và không đăng nhập được cho tới khi được mở khoá.", "Disable this account? The user is signed out at once and cannot sign in until enabled again."),
    ("reset_password", "Đặt mật khẩu mới", "Set a new password"),
    ("reset_for", "Đặt mật khẩu mới cho {user}", "New password for {user}"),
    ("reset_hint", "Mọi phiên đăng nhập của người này sẽ kết thúc; hãy báo mật khẩu mới cho họ.", "Every session of this user ends; tell them the new password."),
    ("reset_done", "Đã đặt mật khẩu mới cho ", "New password set for "),
    ("nav_channels", "Kênh tiếp sóng", "Relay channels"),
    ("channels_title", "Kênh tiếp sóng", "Live channels for relays"),
    ("channel_add", "Thêm kênh", "Add a channel"),
    ("channel_url", "Địa chỉ luồng", "Stream address"),
    ("channel_url_hint", "Luồng http:// hoặc https:// (Icecast, SHOUTcast) MP3, AAC, Ogg Vorbis hoặc WAV.", "An http:// or https:// stream (Icecast, SHOUTcast) of MP3, AAC, Ogg Vorbis or WAV."),
    ("channel_url_changed_hint", "Đổi địa chỉ thì kết quả đo cũ bị xoá: hãy đo lại.", "A new address drops the last measurement: measure again."),
    ("channel_gain", "Độ khuếch đại (dB)", "Gain (dB)"),
    ("channel_gain_hint", "Từ −30 đến 20 dB, áp dụng khi các đài tiếp sóng kênh này.", "From −30 to 20 dB, applied when stations relay this channel."),
    ("channel_measure_on_add", "Đo độ lớn từ luồng và tự đặt độ khuếch đại", "Measure the stream's loudness and set the gain from it"),
    ("channel_measure_head", "Đo độ lớn của kênh", "Measuring a channel's loudness"),
    ("channel_measure_hint", "Máy chủ nghe thử luồng trong số giây đã chọn, đo độ lớn (EBU R128) và đặt độ khuếch đại để kênh phát to bằng các bản tin.", "The server listens to the stream for the chosen seconds, measures its loudness (EBU R128) and sets the gain so that the channel airs as loud as the bulletins."),
    ("channel_seconds", "Thời gian đo", "Sample length"),
    ("channel_measure", "Đo", "Measure"),
    ("channel_measuring", "Đang đo {name} trong {s} giây…", "Measuring {name} for {s} seconds…"),
    ("channel_measured", "{name}: {lufs} LUFS; độ khuếch đại đặt là {gain} dB.", "{name}: {lufs} LUFS; gain set to {gain} dB."),
    ("channel_measure_failed", "Không đo được {name}: ", "Could not measure {name}: "),
    ("channel_edit", "Sửa kênh {name}", "Edit channel {name}"),
    ("channel_delete_q", "Xoá kênh {name}? Chỉ xoá được khi không còn lịch nào tiếp sóng kênh này.", "Delete channel {name}? Only a channel no schedule relays can be deleted."),
    ("channel_deleted", "Đã xoá: ", "Deleted: "),
    ("channel_not_measured", "Chưa đo", "Not measured"),
    ("col_gain", "Khuếch đại", "Gain"),
    ("col_measured_loudness", "Độ lớn đo được", "Measured loudness"),
    ("col_measured_at", "Đo lúc", "Measured at"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_key_has_both_languages_and_appears_once() {
        let mut seen = HashSet::new();
        for (k, vi, en) in TABLE {
            assert!(seen.insert(*k), "key {k} twice");
            assert!(!vi.trim().is_empty(), "{k}: no Vietnamese");
            assert!(!en.trim().is_empty(), "{k}: no English");
        }
    }

    #[test]
    fn every_key_used_by_templates_and_scripts_is_in_the_table() {
        let sources = [
            include_str!("../../templates/base.html"),
            include_str!("../../templates/login.html"),
            include_str!("../../templates/password.html"),
            include_str!("../../templates/dashboard.html"),
            include_str!("../../templates/media.html"),
            include_str!("../../templates/schedules.html"),
            include_str!("../../templates/week.html"),
            include_str!("../../templates/programmes.html"),
            include_str!("../../templates/approvals.html"),
            include_str!("../../templates/urgent.html"),
            include_str!("../../templates/logs.html"),
            include_str!("../../templates/reports.html"),
            include_str!("../../templates/error.html"),
            include_str!("../../templates/areas.html"),
            include_str!("../../templates/stations.html"),
            include_str!("../../templates/users.html"),
            include_str!("../../templates/channels.html"),
            include_str!("../../templates/audit.html"),
            include_str!("../../templates/live.html"),
        ];
        let scripts = crate::pages::assets::FILES
            .iter()
            .filter(|(name, _, _)| name.ends_with(".js"))
            .map(|(_, _, body)| *body);
        let sources: Vec<&str> = sources.into_iter().chain(scripts).collect();
        let keys: HashSet<&str> = TABLE.iter().map(|(k, _, _)| *k).collect();
        for src in sources {
            for pat in ["t.", "T(\""] {
                for (i, _) in src.match_indices(pat) {
                    let rest = &src[i + pat.len()..];
                    let key: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    let prev = src[..i].chars().last().unwrap_or(' ');
                    if key.is_empty()
                        || key.ends_with('_')
                        || prev.is_ascii_alphanumeric()
                        || prev == '_'
                    {
                        continue;
                    }
                    assert!(keys.contains(key.as_str()), "missing translation {key:?}");
                }
            }
        }
    }

    #[test]
    fn unknown_cookie_values_fall_back_to_vietnamese() {
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::default(), Lang::Vi);
        assert_eq!(Lang::En.t("logout"), "Log out");
        assert_eq!(Lang::Vi.t("logout"), "Đăng xuất");
    }
}
