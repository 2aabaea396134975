//! EC2 Auto Scaling: groups, capacity and AZ-balance planning, termination order,
//! scaling policies and target-tracking math, activities.
