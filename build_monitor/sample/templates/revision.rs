pub const REVISION: u32 = @REVISION@;
