//! Places on the Earth (WGS 84): a station's location, and the polygons and circles a CAP
//! alert's `<area>` names.
//!
//! At the scale of a commune or a province a polygon is tested by ray casting on
//! latitude/longitude (an edge is the straight line between its vertices on the plate
//! carrée, which is what CAP publishers draw); a circle by great-circle (haversine)
//! distance on a sphere of the Earth's mean radius, 6371.0088 km. A polygon may cross the
//! antimeridian: longitudes are taken relative to its first vertex.
//!
//! ```
//! use schedules::geo::{Circle, GeoPoint, Polygon};
//! // CAP text: "lat,lon lat,lon …" and "lat,lon radius_km".
//! let hanoi = GeoPoint::new(21.0285, 105.8542).unwrap();
//! let around = Circle::parse("21.03,105.85 5").unwrap();
//! assert!(around.contains(hanoi));
//! let square = Polygon::parse("21.0,105.8 21.1,105.8 21.1,105.9 21.0,105.9 21.0,105.8").unwrap();
//! assert!(square.contains(hanoi));
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

/// The Earth's mean radius (IUGG), in km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Why a place could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeoError {
    /// A coordinate out of range or not a number.
    #[error(
        "'{0}' is not a WGS 84 point 'latitude,longitude' (latitude −90…90, longitude −180…180)"
    )]
    Point(String),
    /// A polygon with too few points.
    #[error("a polygon needs at least 4 points, the first repeated as the last (got {0})")]
    TooFewPoints(usize),
    /// A circle that is not `lat,lon radius`.
    #[error("'{0}' is not a circle 'latitude,longitude radius_km'")]
    Circle(String),
}

/// A point on WGS 84, in decimal degrees. Its constructor refuses values out of range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Location))]
#[serde(try_from = "RawPoint")]
pub struct GeoPoint {
    #[cfg_attr(feature = "openapi", schema(minimum = -90, maximum = 90))]
    lat: f64,
    #[cfg_attr(feature = "openapi", schema(minimum = -180, maximum = 180))]
    lon: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoint {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = GeoError;
    fn try_from(r: RawPoint) -> Result<Self, GeoError> {
        GeoPoint::new(r.lat, r.lon)
    }
}

impl GeoPoint {
    /// A point; latitude in −90…90, longitude in −180…180, both finite.
    pub fn new(lat: f64, lon: f64) -> Result<GeoPoint, GeoError> {
        if lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0 {
            Ok(GeoPoint { lat, lon })
        } else {
            Err(GeoError::Point(format!("{lat},{lon}")))
        }
    }

    /// Reads `lat,lon` (CAP's and the command line's spelling; spaces around the parts are
    /// allowed).
    pub fn parse(text: &str) -> Result<GeoPoint, GeoError> {
        let bad = || GeoError::Point(text.to_string());
        let (lat, lon) = text.split_once(',').ok_or_else(bad)?;
        let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
        let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
        GeoPoint::new(lat, lon).map_err(|_| bad())
    }

    /// Latitude, degrees north.
    pub fn lat(self) -> f64 {
        self.lat
    }

    /// Longitude, degrees east.
    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle distance in km (haversine).
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

impl fmt::Display for GeoPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{}", self.lat, self.lon)
    }
}

/// A CAP `<polygon>`: a closed ring of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon(Vec<GeoPoint>);

impl Polygon {
    /// Reads CAP's `lat,lon lat,lon …` (whitespace-separated pairs; the first and last
    /// the same, at least four). A ring a sender forgot to close is closed here.
    pub fn parse(text: &str) -> Result<Polygon, GeoError> {
        let mut points = text
            .split_whitespace()
            .map(GeoPoint::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if points.len() >= 3 && points.first() != points.last() {
            points.push(points[0]);
        }
        if points.len() < 4 {
            return Err(GeoError::TooFewPoints(points.len()));
        }
        Ok(Polygon(points))
    }

    /// The ring, first point repeated last.
    pub fn points(&self) -> &[GeoPoint] {
        &self.0
    }

    /// Whether `p` lies inside (ray casting, even–odd rule; a point exactly on an edge may
    /// fall either way).
    pub fn contains(&self, p: GeoPoint) -> bool {
        let origin = self.0[0].lon;
        // Longitudes relative to the first vertex, in −180…180: a ring across the
        // antimeridian stays one piece.
        let rel = |lon: f64| {
            let d = lon - origin;
            if d > 180.0 {
                d - 360.0
            } else if d < -180.0 {
                d + 360.0
            } else {
                d
            }
        };
        let (x, y) = (rel(p.lon), p.lat);
        let mut inside = false;
        for w in self.0.windows(2) {
            let (xi, yi) = (rel(w[0].lon), w[0].lat);
            let (xj, yj) = (rel(w[1].lon), w[1].lat);
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
        }
        inside
    }
}

/// A CAP `<circle>`: a centre and a radius in km.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    /// The centre.
    pub centre: GeoPoint,
    /// The radius, km (0 or more).
    pub radius_km: f64,
}

impl Circle {
    /// Reads CAP's `lat,lon radius` (radius in km).
    pub fn parse(text: &str) -> Result<Circle, GeoError> {
        let bad = || GeoError::Circle(text.to_string());
        let mut parts = text.split_whitespace();
        let (Some(centre), Some(radius), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let centre = GeoPoint::parse(centre).map_err(|_| bad())?;
        let radius_km: f64 = radius.parse().map_err(|_| bad())?;
        if !radius_km.is_finite() || radius_km < 0.0 {
            return Err(bad());
        }
        Ok(Circle { centre, radius_km })
    }

    /// Whether `p` lies within the radius. A radius of 0 (CAP's way of naming a point)
    /// contains nothing: a point names no area that a loudspeaker could be inside.
    pub fn contains(&self, p: GeoPoint) -> bool {
        self.radius_km > 0.0 && self.centre.distance_km(p) <= self.radius_km
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pt(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new(lat, lon).unwrap()
    }

    #[test]
    fn points_out_of_range_or_malformed_are_refused() {
        for bad in [
            "91,0", "0,181", "-90.1,0", "x,1", "1", "1,2,3", "NaN,1", "inf,0", "",
        ] {
            assert!(GeoPoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(GeoPoint::parse(" 21.0 , 105.5 ").unwrap(), pt(21.0, 105.5));
        assert!(serde_json::from_str::<GeoPoint>(r#"{"lat": 95, "lon": 1}"#).is_err());
        assert_eq!(
            serde_json::from_str::<GeoPoint>(r#"{"lat": 21, "lon": 105.5}"#).unwrap(),
            pt(21.0, 105.5)
        );
    }

    #[test]
    fn known_great_circle_distances() {
        // Hà Nội (Hoàn Kiếm) – Hồ Chí Minh City (Bến Thành): 1 144 km on the mean sphere.
        let d = pt(21.0285, 105.8542).distance_km(pt(10.7725, 106.6980));
        assert!((d - 1143.97).abs() < 0.05, "{d}");
        // One degree of latitude: 111.2 km on the mean sphere.
        let d = pt(21.0, 105.0).distance_km(pt(22.0, 105.0));
        assert!((d - 111.195).abs() < 0.01, "{d}");
        assert_eq!(pt(1.0, 2.0).distance_km(pt(1.0, 2.0)), 0.0);
        // Across the antimeridian.
        let d = pt(0.0, 179.9).distance_km(pt(0.0, -179.9));
        assert!((d - 22.24).abs() < 0.05, "{d}");
    }

    #[test]
    fn polygons_contain_what_is_inside_them_only() {
        // An L-shape (concave) around Thạch Thất.
        let l = Polygon::parse(
            "21.00,105.50 21.10,105.50 21.10,105.55 21.05,105.55 21.05,105.60 21.00,105.60 21.00,105.50",
        )
        .unwrap();
        let cases = [
            (21.02, 105.52, true),
            (21.08, 105.52, true),
            (21.02, 105.58, true),
            (21.08, 105.58, false), // the notch
            (20.99, 105.52, false),
            (21.02, 105.61, false),
            (21.11, 105.52, false),
        ];
        for (lat, lon, inside) in cases {
            assert_eq!(l.contains(pt(lat, lon)), inside, "{lat},{lon}");
        }
    }

    #[test]
    fn an_unclosed_ring_is_closed_and_too_few_points_are_refused() {
        let open = Polygon::parse("0,0 0,1 1,1").unwrap();
        assert_eq!(open.points().len(), 4);
        assert!(open.contains(pt(0.2, 0.7)));
        assert!(!open.contains(pt(0.7, 0.2)));
        assert_eq!(
            Polygon::parse("0,0 0,1").unwrap_err(),
            GeoError::TooFewPoints(2)
        );
        assert!(Polygon::parse("0,0 0,1 x,1").is_err());
    }

    #[test]
    fn a_polygon_across_the_antimeridian_is_one_piece() {
        let p = Polygon::parse("-1,179 1,179 1,-179 -1,-179 -1,179").unwrap();
        assert!(p.contains(pt(0.0, 179.5)));
        assert!(p.contains(pt(0.0, -179.5)));
        assert!(!p.contains(pt(0.0, 178.5)));
        assert!(!p.contains(pt(0.0, 0.0)));
    }

    #[test]
    fn circles_contain_points_within_their_radius_and_a_zero_radius_contains_none() {
        let c = Circle::parse("21.0,105.5 10").unwrap();
        assert!(c.contains(pt(21.0, 105.5)));
        assert!(c.contains(pt(21.08, 105.5))); // 8.9 km north
        assert!(!c.contains(pt(21.1, 105.5))); // 11.1 km north
        let point = Circle::parse("21.0,105.5 0").unwrap();
        assert!(!point.contains(pt(21.0, 105.5)));
        for bad in ["21,105", "21,105 -1", "21,105 x", "21,105 1 2", "99,105 1"] {
            assert!(Circle::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn distance_is_symmetric_and_bounded(
            a in -90.0f64..=90.0, b in -180.0f64..=180.0,
            c in -90.0f64..=90.0, d in -180.0f64..=180.0,
        ) {
            let (p, q) = (pt(a, b), pt(c, d));
            let (pq, qp) = (p.distance_km(q), q.distance_km(p));
            prop_assert!((pq - qp).abs() < 1e-6);
            prop_assert!((0.0..=std::f64::consts::PI * EARTH_RADIUS_KM + 1e-6).contains(&pq));
        }

        #[test]
        fn a_small_box_contains_exactly_the_points_between_its_edges(
            lat0 in -60.0f64..60.0, lon0 in -170.0f64..170.0,
            h in 0.01f64..1.0, w in 0.01f64..1.0,
            fy in -0.5f64..1.5, fx in -0.5f64..1.5,
        ) {
            let ring = format!(
                "{a},{b} {c},{b} {c},{d} {a},{d} {a},{b}",
                a = lat0, b = lon0, c = lat0 + h, d = lon0 + w
            );
            let poly = Polygon::parse(&ring).unwrap();
            let (y, x) = (lat0 + fy * h, lon0 + fx * w);
            // Keep off the edges, where either answer is right.
            prop_assume!((fy.abs() > 1e-6) && ((fy - 1.0).abs() > 1e-6));
            prop_assume!((fx.abs() > 1e-6) && ((fx - 1.0).abs() > 1e-6));
            let inside = fy > 0.0 && fy < 1.0 && fx > 0.0 && fx < 1.0;
            prop_assert_eq!(poly.contains(pt(y, x)), inside);
        }

        #[test]
        fn a_circle_contains_the_points_due_north_closer_than_its_radius(
            lat in -60.0f64..60.0, lon in -170.0f64..170.0,
            r in 0.1f64..200.0, f in 0.0f64..2.0,
        ) {
            prop_assume!((f - 1.0).abs() > 1e-6);
            // Along a meridian one degree is πR/180 km.
            let km_per_degree = std::f64::consts::PI * EARTH_RADIUS_KM / 180.0;
            let c = Circle { centre: pt(lat, lon), radius_km: r };
            let p = pt(lat + f * r / km_per_degree, lon);
            prop_assert_eq!(c.contains(p), f < 1.0);
        }
    }
}
