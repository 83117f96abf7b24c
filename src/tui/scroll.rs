//! Which rows of a long list are on screen: shared by the view, which draws them, and the
//! app, which maps a mouse click to a row.

/// The rows of a list of `len` shown in `height` rows with `cursor` visible: (first, end).
pub fn list_window(cursor: usize, len: usize, height: usize) -> (usize, usize) {
    if len <= height || height == 0 {
        return (0, len);
    }
    let first = cursor.saturating_sub(height / 2).min(len - height);
    (first, first + height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_window_keeps_the_cursor_visible() {
        assert_eq!(list_window(0, 5, 10), (0, 5));
        assert_eq!(list_window(0, 100, 10), (0, 10));
        assert_eq!(list_window(50, 100, 10), (45, 55));
        assert_eq!(list_window(99, 100, 10), (90, 100));
    }
}
